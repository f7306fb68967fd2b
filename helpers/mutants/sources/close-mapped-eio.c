/* close(2) EIO: an I/O error occurred; the descriptor is released all the
 * same (on Linux close never leaves it open), and the file's mappings stay.
 * Mutant: closing a descriptor of a regular file that this process has
 * mapped releases it and leaves the mappings, but reports EIO, as a
 * network filesystem whose flush at close failed would. */
#include "filemaps.h"

TRACK_FILE_MAPPINGS

int close(int fd) {
    REAL(close);
    REAL(fstat);
    struct stat st;
    int mapped = !real_fstat(fd, &st) && S_ISREG(st.st_mode)
                 && filemaps_mapped(st.st_dev, st.st_ino, NULL);
    int result = real_close(fd);
    if (!result && mapped) {
        errno = EIO;
        return -1;
    }
    return result;
}
