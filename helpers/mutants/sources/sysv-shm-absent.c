/* shmget(2): System V shared memory segments are part of Linux; a kernel
 * built without CONFIG_SYSVIPC has none, and shmget then fails with ENOSYS.
 * Mutant: such a kernel: shmget fails with ENOSYS. */
#include "mutant.h"

#include <sys/shm.h>

int shmget(key_t key, size_t size, int flags) {
    (void)key, (void)size, (void)flags;
    errno = ENOSYS;
    return -1;
}
