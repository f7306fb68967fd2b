/* ftruncate(2): if the file was larger than length, the extra data is lost.
 * Mutant: shrinking succeeds but leaves the file as it was. */
#include "mutant.h"

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    struct stat st;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode) && length < st.st_size)
        return 0;
    return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off_t length) {
    return ftruncate(fd, length);
}
