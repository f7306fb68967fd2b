/* fstat(2): st_size is the file's size now.
 * Mutant: fstat of a regular file that this process has mapped reports the
 * size the file had when it was mapped (the oldest live mapping), as a
 * client that caches attributes while a file is mapped would. */
#include "filemaps.h"

TRACK_FILE_MAPPINGS

static int stale(int result, struct stat *st) {
    off_t size;
    if (!result && S_ISREG(st->st_mode) && filemaps_mapped(st->st_dev, st->st_ino, &size))
        st->st_size = size;
    return result;
}

int fstat(int fd, struct stat *st) {
    REAL(fstat);
    return stale(real_fstat(fd, st), st);
}

int fstat64(int fd, struct stat64 *st) {
    REAL(fstat64);
    int result = real_fstat64(fd, st);
    off_t size;
    if (!result && S_ISREG(st->st_mode) && filemaps_mapped(st->st_dev, st->st_ino, &size))
        st->st_size = size;
    return result;
}
