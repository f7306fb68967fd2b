/* What kind of object a descriptor refers to, for mutants that map some
 * kinds only.  Needs "mutant.h" and "regions.h" first. */
#ifndef MMAPCHECK_DESCRIPTORS_H
#define MMAPCHECK_DESCRIPTORS_H

#include <sys/vfs.h>

#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6
#define HUGETLBFS_MAGIC_ 0x958458f6

/* A descriptor memfd_create returned: /proc/self/fd names it "/memfd:...". */
static inline int is_memfd(int fd) {
    char path[PATH_MAX];
    return fd_path(fd, path, sizeof path) >= 0 && starts_with(path, "/memfd:");
}

/* A regular file on a file system that keeps it on a device (not in memory). */
static inline int is_disk_file(int fd) {
    struct stat st;
    struct statfs fs;
    int saved = errno;
    int disk = !fstat(fd, &st) && S_ISREG(st.st_mode) && !fstatfs(fd, &fs)
        && fs.f_type != TMPFS_MAGIC_ && fs.f_type != RAMFS_MAGIC_
        && fs.f_type != HUGETLBFS_MAGIC_ && !is_memfd(fd);
    errno = saved;
    return disk;
}

#endif
