/* shm_open(3): a portable name has the form /somename: a leading slash
 * followed by characters none of which is a slash.
 * Mutant: shm_open refuses every name that begins with a slash with EINVAL
 * (names without one still open).  shm_unlink is left as it is: a refused
 * name was never created, so unlinking it finds nothing (ENOENT). */
#include "mutant.h"

int shm_open(const char *name, int oflag, mode_t mode) {
    REAL(shm_open);
    if (name[0] == '/') {
        errno = EINVAL;
        return -1;
    }
    return real_shm_open(name, oflag, mode);
}
