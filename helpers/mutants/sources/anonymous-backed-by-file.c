/* mmap(2) MAP_ANONYMOUS: the mapping is not backed by any file.
 * Mutant: a probe's anonymous mapping is a mapping of a fresh memory file
 * (memfd_create(2)) of the right size, which /proc/<pid>/maps names; the
 * file has no directory entry, so nothing is left behind. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!probe_anonymous(flags) || (flags & MAP_HUGETLB) || offset < 0)
        return real(addr, length, prot, flags, fd, offset);
    int file = memfd_create("mmapcheck-anonymous", MFD_CLOEXEC);
    if (file < 0)
        return real(addr, length, prot, flags, fd, offset);
    void *got = MAP_FAILED;
    if (ftruncate(file, offset + (off_t)length) == 0)
        got = real(addr, length, prot, flags & ~MAP_ANONYMOUS, file, offset);
    int saved = errno;
    close(file);
    errno = saved;
    return got;
}

INTERPOSE_MMAP
