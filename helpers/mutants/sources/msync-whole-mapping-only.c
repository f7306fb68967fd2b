/* msync(2): addr must be a multiple of the page size; any page-aligned
 * part of a mapping may be flushed.
 * Mutant: msync refuses with EINVAL a range that is not one whole mapping,
 * as /proc/self/maps lists it. */
#include "mutant.h"
#include "regions.h"

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    struct region r;
    uintptr_t start = (uintptr_t)addr;
    if (!region_of(start, &r) && (r.start != start || r.end - r.start != length)) {
        errno = EINVAL;
        return -1;
    }
    return real_msync(addr, length, flags);
}
