/* mmap(2) PROT_NONE: pages may not be accessed.
 * Mutant: a PROT_NONE file mapping, or a file page made PROT_NONE by
 * mprotect, can still be read. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && prot == PROT_NONE)
        prot = PROT_READ;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
