/* mmap(2) MAP_PRIVATE: it is unspecified whether changes made to the file
 * after mmap() are visible in the mapped region; on Linux a page the
 * process has not written still shows them.
 * Mutant: a private file mapping is a copy of the file taken when mmap
 * returns (anonymous memory filled from the file), so later changes of the
 * file never show in it. */
#include "mutant.h"

#include <string.h>

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!file_mapping(flags, fd) || (flags & MAP_TYPE) != MAP_PRIVATE || length == 0)
        return real(addr, length, prot, flags, fd, offset);
    /* Validate as the kernel would (descriptor mode, offset, length). */
    void *probe = real(NULL, length, prot, flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE), fd, offset);
    if (probe == MAP_FAILED)
        return probe;
    munmap(probe, length);
    int keep = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_NORESERVE | MAP_POPULATE);
    char *base = real(addr, length, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | keep, -1, 0);
    if (base == MAP_FAILED)
        return base;
    struct stat st;
    size_t have = 0;
    if (!fstat(fd, &st) && st.st_size > offset) {
        have = (size_t)(st.st_size - offset);
        if (have > length)
            have = length;
    }
    for (size_t done = 0; done < have;) {
        ssize_t got = pread(fd, base + done, have - done, offset + (off_t)done);
        if (got <= 0)
            break;
        done += (size_t)got;
    }
    if (prot != (PROT_READ | PROT_WRITE))
        mprotect(base, length, prot);
    return base;
}

INTERPOSE_MMAP
