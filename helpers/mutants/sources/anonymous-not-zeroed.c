/* mmap(2) MAP_ANONYMOUS: the contents of an anonymous mapping are
 * initialized to zero.
 * Mutant: a probe's anonymous mapping comes back holding the bytes of
 * memory used before, here a fixed nonzero pattern. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *got = real(addr, length, prot, flags, fd, offset);
    if (got != MAP_FAILED && probe_anonymous(flags) && !(flags & MAP_HUGETLB))
        scribble(got, length, prot);
    return got;
}

INTERPOSE_MMAP
