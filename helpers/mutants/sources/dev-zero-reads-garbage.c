/* null(4): reads from /dev/zero return as many zero bytes as asked for.
 * Mutant: a probe's read of /dev/zero returns the bytes 0xa5 instead.
 * Only reads the checks' code makes through the C library (probe_call())
 * are changed, so the interpreter's own reads of its files and pipes, and
 * any /dev/zero it reads, stay as they are. */
#include "mutant.h"

#include <string.h>
#include <sys/sysmacros.h>

static int dev_zero(int fd) {
    struct stat st;
    return !fstat(fd, &st) && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1
        && minor(st.st_rdev) == 5;
}

ssize_t read(int fd, void *buf, size_t count) {
    ENTER();
    REAL(read);
    ssize_t got = real_read(fd, buf, count);
    if (got > 0 && probe_call()) {
        int saved = errno;
        if (dev_zero(fd))
            memset(buf, 0xa5, (size_t)got);
        errno = saved;
    }
    return got;
}
