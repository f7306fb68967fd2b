/* read(2), preadv(2): the data are copied from the page cache into the
 * caller's buffer, which keeps frames of its own.
 * Mutant: a preadv of whole pages of a regular file into one page-aligned
 * buffer maps those pages of the file over the buffer (private, so stores
 * into the buffer stay there): the buffer shows the page-cache frames
 * instead of a copy.  Any other read is left as it is.  Python's
 * os.preadv reaches the C library as preadv64v2. */
#include "mutant.h"

#include <sys/uio.h>

/* Map the file over the buffer and return the bytes "read", or -2 when the
 * call is not one this mutant changes. */
static ssize_t map_over(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    REAL(mmap);
    long page = kernel_page();
    struct stat st;
    if (iovcnt != 1 || fstat(fd, &st) || !S_ISREG(st.st_mode))
        return -2;
    uintptr_t base = (uintptr_t)iov[0].iov_base;
    size_t length = iov[0].iov_len;
    if (length == 0 || base % (uintptr_t)page || length % (size_t)page || offset % page
            || offset + (off_t)length > st.st_size)
        return -2;
    /* Populated for reading, so the buffer holds the page-cache pages
     * themselves; writable afterwards, a store copies its page as usual. */
    if (real_mmap(iov[0].iov_base, length, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE,
                  fd, offset) == MAP_FAILED)
        return -2;
    mprotect(iov[0].iov_base, length, PROT_READ | PROT_WRITE);
    return (ssize_t)length;
}

ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    REAL(preadv);
    ssize_t mapped = map_over(fd, iov, iovcnt, offset);
    return mapped != -2 ? mapped : real_preadv(fd, iov, iovcnt, offset);
}

ssize_t preadv64(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    return preadv(fd, iov, iovcnt, offset);
}

ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    REAL(preadv2);
    ssize_t mapped = flags ? -2 : map_over(fd, iov, iovcnt, offset);
    return mapped != -2 ? mapped : real_preadv2(fd, iov, iovcnt, offset, flags);
}

ssize_t preadv64v2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    return preadv2(fd, iov, iovcnt, offset, flags);
}
