/* mmap(2) MAP_LOCKED: lock the pages of the mapping in memory, as
 * mlock(2) would, and fail with EAGAIN past RLIMIT_MEMLOCK.
 * Mutant: a probe's anonymous mapping drops MAP_LOCKED: nothing is locked
 * and the limit is never met. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if ((flags & MAP_LOCKED) && probe_anonymous(flags))
        flags &= ~MAP_LOCKED;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
