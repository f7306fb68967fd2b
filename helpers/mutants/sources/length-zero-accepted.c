/* mmap(2) EINVAL: "length" was 0.
 * Mutant: a file mapping of length 0 succeeds as a one-page mapping. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && length == 0)
        length = (size_t)kernel_page();
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
