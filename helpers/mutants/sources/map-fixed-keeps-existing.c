/* mmap(2) MAP_FIXED: pages of existing mappings that the new range
 * overlaps are discarded.
 * Mutant: a MAP_FIXED file mapping over an occupied range fails with
 * EEXIST and leaves the existing pages, as MAP_FIXED_NOREPLACE does. */
#include "address.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_fixed(flags, fd))
        flags = (flags & ~MAP_FIXED) | MAP_FIXED_NOREPLACE;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
