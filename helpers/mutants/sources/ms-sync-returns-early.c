/* msync(2) MS_SYNC: requests an update and waits for it to complete.
 * Mutant: MS_SYNC returns at once, as MS_ASYNC does, leaving pages dirty. */
#include "mutant.h"

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    if (flags & MS_SYNC)
        flags = (flags & ~MS_SYNC) | MS_ASYNC;
    return real_msync(addr, length, flags);
}
