/* read(2), preadv(2): the data are copied from the page cache into the
 * caller's buffer, which keeps frames of its own.
 * Mutant: a preadv of whole pages of a regular file into one page-aligned
 * buffer maps those pages of the file over the buffer (private, so stores
 * into the buffer stay there): the buffer shows the page-cache frames
 * instead of a copy.  Any other read is left as it is. */
#include "mutant.h"

#include <sys/uio.h>

ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    REAL(preadv);
    REAL(mmap);
    long page = kernel_page();
    struct stat st;
    if (iovcnt != 1 || fstat(fd, &st) || !S_ISREG(st.st_mode))
        return real_preadv(fd, iov, iovcnt, offset);
    uintptr_t base = (uintptr_t)iov[0].iov_base;
    size_t length = iov[0].iov_len;
    if (length == 0 || base % (uintptr_t)page || length % (size_t)page || offset % page
            || offset + (off_t)length > st.st_size)
        return real_preadv(fd, iov, iovcnt, offset);
    if (real_mmap(iov[0].iov_base, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                  fd, offset) == MAP_FAILED)
        return real_preadv(fd, iov, iovcnt, offset);
    return (ssize_t)length;
}
