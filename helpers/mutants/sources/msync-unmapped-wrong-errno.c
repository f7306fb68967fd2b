/* msync(2) ERRORS: ENOMEM when the range, or part of it, was not mapped.
 * Mutant: that failure reports EINVAL instead.  No document says which
 * errno an unmapped range gives, so no claim may move: a negative control. */
#include "mutant.h"

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    int result = real_msync(addr, length, flags);
    if (result && errno == ENOMEM)
        errno = EINVAL;
    return result;
}
