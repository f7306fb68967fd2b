/* ftruncate(2): a regular file may be shrunk while it is mapped; the pages
 * past the new end then raise SIGBUS.
 * Mutant: ftruncate to a smaller length of a file this process has mapped
 * fails with ETXTBSY, as systems that keep mapped files busy do. */
#include "filemaps.h"

TRACK_FILE_MAPPINGS

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    struct stat st;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode) && length < st.st_size
        && filemaps_mapped(st.st_dev, st.st_ino, NULL)) {
        errno = ETXTBSY;
        return -1;
    }
    return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off_t length) {
    return ftruncate(fd, length);
}
