/* mmap(2) DESCRIPTION: a non-NULL addr without MAP_FIXED is a hint about
 * where to place the mapping; Linux places it at a nearby page boundary.
 * Mutant: the hint of a file mapping is dropped, as if addr were NULL. */
#include "address.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_hint(addr, flags, fd))
        addr = NULL;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
