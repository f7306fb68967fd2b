/* mmap(2) MAP_FIXED: place the mapping at exactly addr, or fail.
 * Mutant: a probe's anonymous MAP_FIXED mapping is placed where the kernel
 * likes, as if addr were NULL, and never fails for its addr. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if ((flags & MAP_FIXED) && probe_anonymous(flags)) {
        flags &= ~MAP_FIXED;
        addr = NULL;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
