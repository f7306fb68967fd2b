/* write(2), lseek(2): lseek may set the offset beyond the end of a file;
 * a write there extends the file, and the gap reads as null bytes.
 * Mutant: a write to a regular file whose offset lies past its end lands
 * at the end instead, as if the file were open with O_APPEND for that
 * write: no gap, and the file grows only by what is written. */
#include "mutant.h"

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write);
    REAL(lseek);
    struct stat st;
    int saved = errno;
    off_t at = real_lseek(fd, 0, SEEK_CUR);
    if (at >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) && at > st.st_size)
        real_lseek(fd, 0, SEEK_END);
    errno = saved;
    return real_write(fd, buf, count);
}
