/* mmap(2) DESCRIPTION: a hint is taken at a nearby page boundary.
 * Control: the hint of a file mapping is rounded down to its page before
 * the kernel sees it, which is what Linux does on x86 itself and what every
 * claim about hints allows: no verdict may move. */
#include "address.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_hint(addr, flags, fd))
        addr = page_floor(addr);
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
