/* mmap(2), memfd_create(2): a memfd is a file like any other and can be
 * mapped.
 * Mutant: mapping a memfd fails with ENODEV; descriptors open(2) returned,
 * of files or devices, map as before. */
#include "mutant.h"

#include <string.h>

static int is_memfd(int fd) {
    char path[64], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0)
        return 0;
    target[n] = '\0';
    return strncmp(target, "/memfd:", 7) == 0;
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && is_memfd(fd)) {
        errno = ENODEV;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
