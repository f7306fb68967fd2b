/* mmap(2): PROT_WRITE without PROT_READ is a valid protection (on x86 it
 * implies read access).
 * Mutant: a file mapping asking for PROT_WRITE alone fails with EACCES. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && (prot & PROT_WRITE) && !(prot & PROT_READ)) {
        errno = EACCES;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
