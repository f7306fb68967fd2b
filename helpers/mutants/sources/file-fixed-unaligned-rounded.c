/* mmap(2) ERRORS: EINVAL when MAP_FIXED is given an addr that is not
 * suitably aligned (a page multiple).
 * Mutant: a MAP_FIXED file mapping at an unaligned addr succeeds, at the
 * start of the page that holds addr. */
#include "address.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_fixed(flags, fd))
        addr = page_floor(addr);
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
