/* mmap(2) DESCRIPTION: without MAP_FIXED, an occupied hint is not taken;
 * the kernel places the mapping elsewhere and the existing one stays.
 * Mutant: the hint of a file mapping is obeyed like MAP_FIXED at its page,
 * replacing whatever is mapped there. */
#include "address.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_hint(addr, flags, fd)) {
        addr = page_floor(addr);
        flags |= MAP_FIXED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
