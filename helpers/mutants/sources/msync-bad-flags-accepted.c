/* msync(2) EINVAL: flags has a bit other than MS_ASYNC, MS_SYNC and
 * MS_INVALIDATE set, or both MS_SYNC and MS_ASYNC.
 * Mutant: such flags are accepted, the unknown bits and MS_ASYNC dropped. */
#include "mutant.h"

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    flags &= MS_ASYNC | MS_SYNC | MS_INVALIDATE;
    if ((flags & MS_SYNC) && (flags & MS_ASYNC))
        flags &= ~MS_ASYNC;
    return real_msync(addr, length, flags);
}
