/* mmap(2) EINVAL: "offset" must be a multiple of the page size.
 * Mutant: a file mapping at an unaligned offset is accepted, the offset
 * rounded down to the page boundary below it. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && offset % kernel_page())
        offset -= offset % kernel_page();
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
