/* mmap(2) MAP_ANONYMOUS: the offset argument should be zero, but Linux
 * accepts any page-aligned offset and ignores it.
 * Mutant: a probe's anonymous mapping with a nonzero offset fails with
 * EINVAL. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (offset != 0 && probe_anonymous(flags)) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
