/* mmap(2) ERRORS: EINVAL when addr is not page-aligned (with MAP_FIXED).
 * Mutant: a probe's anonymous MAP_FIXED mapping at an unaligned addr
 * succeeds, at the page boundary below it. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if ((flags & MAP_FIXED) && probe_anonymous(flags))
        addr = (void *)page_floor((uintptr_t)addr);
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
