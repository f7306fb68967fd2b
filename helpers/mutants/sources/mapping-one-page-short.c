/* mmap(2): the mapping covers length bytes, rounded up to whole pages.
 * Mutant: a file mapping longer than one page covers one page less than
 * asked: its last page is not mapped, and a reference to it raises
 * SIGSEGV. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *mapped = real(addr, length, prot, flags, fd, offset);
    size_t page = (size_t)kernel_page();
    size_t whole = (length + page - 1) / page * page;
    if (mapped != MAP_FAILED && file_mapping(flags, fd) && whole > page) {
        REAL(munmap);
        real_munmap((char *)mapped + whole - page, page);
    }
    return mapped;
}

INTERPOSE_MMAP
