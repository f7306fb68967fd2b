/* truncate(2), ftruncate(2): if the file is extended, the extended part
 * reads as null bytes.
 * Mutant: the extended part of a regular file or shm object reads 0xA5. */
#include "mutant.h"

#include <string.h>

static int grow(int fd, off_t length, int (*real)(int, off_t)) {
    struct stat st;
    off_t before = !fstat(fd, &st) && S_ISREG(st.st_mode) ? st.st_size : -1;
    int status = real(fd, length);
    if (status || before < 0 || length <= before)
        return status;
    unsigned char fill[4096];
    memset(fill, 0xA5, sizeof fill);
    for (off_t at = before; at < length;) {
        size_t n = (size_t)(length - at) < sizeof fill ? (size_t)(length - at) : sizeof fill;
        ssize_t done = pwrite(fd, fill, n, at);
        if (done <= 0)
            break; /* a descriptor we cannot write through keeps its zeros */
        at += done;
    }
    return 0;
}

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    return grow(fd, length, real_ftruncate);
}

int ftruncate64(int fd, off_t length) {
    return ftruncate(fd, length);
}

int truncate(const char *path, off_t length) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    REAL(ftruncate);
    int status = grow(fd, length, real_ftruncate);
    int saved = errno;
    close(fd);
    errno = saved;
    return status;
}

int truncate64(const char *path, off_t length) {
    return truncate(path, length);
}
