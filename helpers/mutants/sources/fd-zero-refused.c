/* mmap(2): any descriptor open on a regular file may be mapped, 0 included.
 * Mutant: a file mapping through descriptor 0 fails with EBADF. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (fd == 0 && file_mapping(flags, fd)) {
        errno = EBADF;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
