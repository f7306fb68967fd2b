/* shm_unlink(3): removes the object's name; a later shm_open of it without
 * O_CREAT fails with ENOENT.
 * Mutant: a probe's shm_unlink returns 0 and leaves the name in place, so
 * the object can still be opened by name.  (Names so kept outlive the
 * run: python -m helpers.cleanup removes them.) */
#include "mutant.h"

int shm_unlink(const char *name) {
    ENTER();
    REAL(shm_unlink);
    if (probe_call())
        return 0;
    return real_shm_unlink(name);
}
