/* mmap(2): the mapping starts at "offset" in the file.
 * Mutant: a file mapping at a non-zero page-aligned offset maps the file
 * from its start instead (unaligned offsets still fail). */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && offset > 0 && offset % kernel_page() == 0)
        offset = 0;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
