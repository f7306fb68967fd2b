/* mmap(2) EBADF: fd is not a valid file descriptor (and MAP_ANONYMOUS was
 * not set).
 * Mutant: a file mapping through descriptor -1 succeeds as anonymous memory. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (fd == -1 && !(flags & MAP_ANONYMOUS))
        flags |= MAP_ANONYMOUS;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
