/* mmap(2) MAP_SHARED: updates are visible to other processes mapping the
 * same region and are carried through to the underlying file.
 * Mutant: a shared file mapping is made private, so stores reach neither.
 * What mmap accepts stays as it was: a writable shared mapping of a
 * descriptor that is not open for writing still fails with EACCES. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!file_mapping(flags, fd) || (flags & MAP_TYPE) != MAP_SHARED)
        return real(addr, length, prot, flags, fd, offset);
    int mode = fcntl(fd, F_GETFL) & O_ACCMODE;
    if ((prot & PROT_WRITE) && mode != O_RDWR) {
        errno = EACCES;
        return MAP_FAILED;
    }
    return real(addr, length, prot, (flags & ~MAP_TYPE) | MAP_PRIVATE, fd, offset);
}

INTERPOSE_MMAP
