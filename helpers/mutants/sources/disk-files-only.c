/* mmap(2): any file whose file operations support mapping can be mapped:
 * regular files on disk, tmpfs files (POSIX shared memory objects,
 * memfds) and devices such as /dev/zero.
 * Mutant: only regular files of a filesystem on a device can be mapped;
 * a descriptor of anything else (a tmpfs or ramfs file, a memfd, a device)
 * fails with ENODEV. */
#include "mutant.h"

#include <linux/magic.h>
#include <sys/vfs.h>

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    struct stat st;
    struct statfs fs;
    if (file_mapping(flags, fd) && !fstat(fd, &st) && !fstatfs(fd, &fs)
            && (!S_ISREG(st.st_mode) || fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
        errno = ENODEV;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
