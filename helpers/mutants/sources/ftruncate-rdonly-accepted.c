/* ftruncate(2) EBADF/EINVAL: fd is not open for writing.
 * Mutant: a read-only descriptor's file is resized anyway (through a
 * read-write descriptor of the same file). */
#include "mutant.h"

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
        return real_ftruncate(fd, length);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int writable = open(path, O_RDWR | O_CLOEXEC);
    if (writable < 0)
        return real_ftruncate(fd, length);
    int status = real_ftruncate(writable, length);
    int saved = errno;
    close(writable);
    errno = saved;
    return status;
}

int ftruncate64(int fd, off_t length) {
    return ftruncate(fd, length);
}
