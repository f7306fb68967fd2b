/* mmap(2) MAP_SHARED: updates are visible to other processes mapping the
 * same region and are carried through to the underlying file.
 * Mutant: a shared file mapping is made private, so stores reach neither. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && (flags & MAP_TYPE) == MAP_SHARED)
        flags = (flags & ~MAP_TYPE) | MAP_PRIVATE;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
