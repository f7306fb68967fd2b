/* mmap(2) MAP_LOCKED: the pages of the mapping are locked into memory,
 * as mlock(2) would, and count against RLIMIT_MEMLOCK.
 * Mutant: MAP_LOCKED is dropped from a file mapping: nothing is locked. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd))
        flags &= ~MAP_LOCKED;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
