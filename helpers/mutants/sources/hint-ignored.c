/* mmap(2): without MAP_FIXED, addr is a hint; Linux places the mapping at
 * a nearby page boundary when that range is free.
 * Mutant: a probe's anonymous mapping ignores the hint and lands where
 * the kernel puts a mapping asked for with addr NULL. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (hint_only(addr, flags) && probe_anonymous(flags))
        addr = NULL;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
