/* ftruncate(2): the file offset is not changed.
 * Mutant: after ftruncate the offset is at the new end of the file. */
#include "mutant.h"

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    int status = real_ftruncate(fd, length);
    if (status == 0)
        lseek(fd, length, SEEK_SET);
    return status;
}

int ftruncate64(int fd, off_t length) {
    return ftruncate(fd, length);
}
