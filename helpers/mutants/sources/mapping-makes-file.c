/* mmap(2): a file mapping is made from an open descriptor; mmap creates no
 * file anywhere.
 * Mutant: a probe's mapping of a regular file creates an empty file beside
 * it (the mapped file's name with ".mapped" added), as if the kernel kept a
 * copy of the mapping on disk.  The name keeps the mapped file's prefix and
 * directory, so the fixtures' cleanup and the end-of-run leftover check
 * remove it with the file it belongs to.  Objects under /dev are left
 * alone. */
#include "mutant.h"

#include <limits.h>
#include <string.h>

static void make_beside(int fd) {
    char link[64], path[PATH_MAX];
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - sizeof ".mapped");
    if (n <= 0 || path[0] != '/' || !strncmp(path, "/dev/", 5))
        return;
    memcpy(path + n, ".mapped", sizeof ".mapped");
    int made = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (made >= 0)
        close(made);
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *got = real(addr, length, prot, flags, fd, offset);
    if (got != MAP_FAILED && file_mapping(flags, fd) && probe_call()) {
        int saved = errno;
        make_beside(fd);
        errno = saved;
    }
    return got;
}

INTERPOSE_MMAP
