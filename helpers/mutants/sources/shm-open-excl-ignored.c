/* shm_open(3) O_EXCL: with O_CREAT, fail with EEXIST if the name exists.
 * Mutant: O_EXCL is ignored, so an existing object is opened. */
#include "mutant.h"

int shm_open(const char *name, int oflag, mode_t mode) {
    REAL(shm_open);
    return real_shm_open(name, oflag & ~O_EXCL, mode);
}
