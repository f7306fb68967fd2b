/* mmap(2) MAP_POPULATE: without it, the pages of an anonymous mapping get
 * physical frames only on first access.
 * Mutant: a probe's anonymous mapping is populated when mmap returns, as
 * if MAP_POPULATE were always given. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (probe_anonymous(flags))
        flags |= MAP_POPULATE;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
