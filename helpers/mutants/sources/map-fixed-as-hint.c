/* mmap(2) MAP_FIXED: addr is not a hint; the mapping starts there exactly
 * or the call fails.
 * Mutant: MAP_FIXED is dropped from a file mapping, so addr is only a hint
 * (an unaligned or unusable one is placed elsewhere, an occupied range kept). */
#include "address.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_fixed(flags, fd))
        flags &= ~MAP_FIXED;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
