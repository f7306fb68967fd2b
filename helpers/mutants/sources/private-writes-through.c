/* mmap(2) MAP_PRIVATE: updates are not carried through to the file.
 * Mutant: a private file mapping is made shared, so stores reach the file
 * (through a read-write descriptor of the same file when the caller's is
 * read-only). */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!file_mapping(flags, fd) || (flags & MAP_TYPE) != MAP_PRIVATE)
        return real(addr, length, prot, flags, fd, offset);
    flags = (flags & ~MAP_TYPE) | MAP_SHARED;
    int writable = fd;
    if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        writable = open(path, O_RDWR | O_CLOEXEC);
        if (writable < 0)
            writable = fd; /* not writable at all: the mapping stays read-only */
    }
    void *result = real(addr, length, prot, flags, writable, offset);
    if (writable != fd) {
        int saved = errno;
        close(writable);
        errno = saved;
    }
    return result;
}

INTERPOSE_MMAP
