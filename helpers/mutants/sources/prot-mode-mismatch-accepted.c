/* mmap(2) EACCES: MAP_SHARED with PROT_WRITE needs a descriptor open for
 * reading and writing.
 * Mutant: on a read-only descriptor such a mapping succeeds, silently made
 * private. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && (flags & MAP_TYPE) == MAP_SHARED && (prot & PROT_WRITE)
        && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
        flags = (flags & ~MAP_TYPE) | MAP_PRIVATE;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
