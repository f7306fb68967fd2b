/* mmap(2): prot is PROT_NONE or the OR of PROT_READ, PROT_WRITE and
 * PROT_EXEC; any of them is accepted for a file mapping.
 * Mutant: a file mapping with PROT_NONE fails with EACCES, as if the
 * protection did not fit the descriptor's mode. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && prot == PROT_NONE) {
        errno = EACCES;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
