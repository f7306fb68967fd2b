/* write(2): the data is written at the descriptor's file offset, which
 * lseek(2) may set anywhere, even past the end of the file (a write there
 * leaves a gap that reads as null bytes).
 * Mutant: a write to a regular file lands at the end of the file whatever
 * the offset, as if every descriptor were open with O_APPEND: no gap is
 * made and nothing before the end is overwritten. */
#include "mutant.h"

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write);
    REAL(lseek);
    struct stat st;
    int saved = errno;
    off_t at = real_lseek(fd, 0, SEEK_CUR);
    if (at >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) && at != st.st_size)
        real_lseek(fd, 0, SEEK_END);
    errno = saved;
    return real_write(fd, buf, count);
}
