/* mmap(2): the mapping covers length bytes rounded up to whole pages;
 * access past it raises SIGSEGV.
 * Mutant: one page of zeroed memory follows every file mapping. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!file_mapping(flags, fd) || (flags & MAP_FIXED) || length == 0)
        return real(addr, length, prot, flags, fd, offset);
    long page = kernel_page();
    size_t span = (length + (size_t)page - 1) / (size_t)page * (size_t)page;
    char *base = real(addr, span + (size_t)page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return base;
    if (real(base, length, prot, flags | MAP_FIXED, fd, offset) == MAP_FAILED) {
        int saved = errno;
        munmap(base, span + (size_t)page);
        errno = saved;
        return MAP_FAILED;
    }
    return base;
}

INTERPOSE_MMAP
