/* mmap(2) PROT_EXEC: the pages of the mapping may be executed.
 * Mutant: PROT_EXEC is dropped from a file mapping, so calling code in it
 * faults as in a mapping that never asked for it. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd))
        prot &= ~PROT_EXEC;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
