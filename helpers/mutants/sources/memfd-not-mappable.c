/* memfd_create(2): the descriptor refers to an anonymous file that can be
 * mapped like a regular file.
 * Mutant: mmap of a memfd descriptor fails with ENODEV, as for an object
 * that does not support mapping. */
#include "mutant.h"
#include "regions.h"
#include "descriptors.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && is_memfd(fd)) {
        errno = ENODEV;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
