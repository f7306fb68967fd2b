/* msync(2) MS_ASYNC: schedules the update and returns at once (on Linux it
 * starts no write at all).
 * Mutant: MS_ASYNC waits for the write like MS_SYNC. */
#include "mutant.h"

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    if (flags & MS_ASYNC)
        flags = (flags & ~MS_ASYNC) | MS_SYNC;
    return real_msync(addr, length, flags);
}
