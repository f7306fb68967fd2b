/* mmap(2): without MAP_FIXED, a hint over an existing mapping makes the
 * kernel pick another address, leaving the existing mapping alone.
 * Mutant: a probe's anonymous mapping with a hint is placed at the hint's
 * page boundary as with MAP_FIXED, replacing whatever was there. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (hint_only(addr, flags) && probe_anonymous(flags)) {
        addr = (void *)page_floor((uintptr_t)addr);
        flags |= MAP_FIXED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
