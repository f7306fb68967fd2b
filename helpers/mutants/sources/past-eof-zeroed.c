/* mmap(2) SIGBUS: access to a page of the mapping wholly past the end of
 * the file raises SIGBUS.
 * Mutant: those pages are zeroed anonymous memory instead (an empty file
 * maps as plain memory). */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *base = real(addr, length, prot, flags, fd, offset);
    struct stat st;
    if (base == MAP_FAILED || !file_mapping(flags, fd) || fstat(fd, &st) || !S_ISREG(st.st_mode))
        return base;
    long page = kernel_page();
    off_t covered = st.st_size > offset ? st.st_size - offset : 0;
    size_t head = (size_t)((covered + page - 1) / page * page);
    size_t span = (length + page - 1) / page * page;
    if (head < span) {
        int saved = errno;
        real((char *)base + head, span - head, prot,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        errno = saved;
    }
    return base;
}

INTERPOSE_MMAP
