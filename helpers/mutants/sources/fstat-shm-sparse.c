/* fstat(2) fills every field of struct stat for a POSIX shm object as for
 * any tmpfs file: inode number, link count, blocks and times included.
 * Mutant: fstat of a descriptor of an object under /dev/shm keeps only
 * st_mode, st_uid, st_gid and st_size (and the device); every other field
 * reads zero, as on a system where only those four are meaningful. */
#include "mutant.h"
#include "regions.h"

static void sparse(int fd, struct stat *st) {
    char path[PATH_MAX];
    if (fd_path(fd, path, sizeof path) < 0 || !starts_with(path, "/dev/shm/"))
        return;
    struct stat kept = {0};
    kept.st_dev = st->st_dev;
    kept.st_mode = st->st_mode;
    kept.st_uid = st->st_uid;
    kept.st_gid = st->st_gid;
    kept.st_size = st->st_size;
    *st = kept;
}

int fstat(int fd, struct stat *st) {
    REAL(fstat);
    int result = real_fstat(fd, st);
    if (result == 0)
        sparse(fd, st);
    return result;
}

/* On the 64-bit Linux ABIs the mutants are built for, struct stat64 is struct stat. */
int fstat64(int fd, struct stat64 *st) {
    REAL(fstat64);
    int result = real_fstat64(fd, st);
    if (result == 0)
        sparse(fd, (struct stat *)st);
    return result;
}
