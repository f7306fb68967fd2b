/* mmap(2) EACCES: a file mapping needs a descriptor open for reading, and
 * MAP_SHARED with PROT_WRITE one open for reading and writing; a wider
 * open mode than the protection is fine.
 * Mutant: a MAP_SHARED file mapping succeeds exactly when its read and
 * write protection equals the descriptor's open mode (O_RDONLY with
 * PROT_READ, O_WRONLY with PROT_WRITE, O_RDWR with both) and fails with
 * EACCES otherwise. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!file_mapping(flags, fd) || (flags & MAP_TYPE) != MAP_SHARED)
        return real(addr, length, prot, flags, fd, offset);
    int mode = fcntl(fd, F_GETFL);
    if (mode < 0)
        return real(addr, length, prot, flags, fd, offset);
    mode &= O_ACCMODE;
    int rw = prot & (PROT_READ | PROT_WRITE);
    int wanted = mode == O_RDONLY ? PROT_READ : mode == O_WRONLY ? PROT_WRITE
                                                                  : PROT_READ | PROT_WRITE;
    if (rw != wanted) {
        errno = EACCES;
        return MAP_FAILED;
    }
    if (mode != O_WRONLY)
        return real(addr, length, prot, flags, fd, offset);
    /* A write-only descriptor: the mapping is made through a readable one. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int readable = open(path, O_RDWR | O_CLOEXEC);
    if (readable < 0)
        return real(addr, length, prot, flags, fd, offset);
    void *result = real(addr, length, prot, flags, readable, offset);
    int saved = errno;
    close(readable);
    errno = saved;
    return result;
}

INTERPOSE_MMAP
