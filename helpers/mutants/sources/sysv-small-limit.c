/* shmget(2): a segment may be as large as SHMMAX allows (unlimited by
 * default on current Linux).
 * Mutant: a segment larger than 32 MiB cannot be created (EINVAL, as for
 * size > SHMMAX). */
#include "mutant.h"

#include <sys/shm.h>

int shmget(key_t key, size_t size, int flags) {
    REAL(shmget);
    if (size > ((size_t)32 << 20)) {
        errno = EINVAL;
        return -1;
    }
    return real_shmget(key, size, flags);
}
