/* shm_open(3) O_TRUNC: an existing object opened with O_RDWR is truncated
 * to zero bytes.
 * Mutant: O_TRUNC is ignored, so an existing object keeps its size and
 * contents. */
#include "mutant.h"

int shm_open(const char *name, int oflag, mode_t mode) {
    REAL(shm_open);
    return real_shm_open(name, oflag & ~O_TRUNC, mode);
}
