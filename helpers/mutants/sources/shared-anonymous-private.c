/* mmap(2) MAP_SHARED with MAP_ANONYMOUS: the memory is shared with the
 * processes forked after the mapping was made.
 * Mutant: a probe's shared anonymous mapping is made MAP_PRIVATE, so a
 * forked child gets its own copy and its stores never reach the parent. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (map_type(flags) == MAP_SHARED && probe_anonymous(flags))
        flags = (flags & ~0x3) | MAP_PRIVATE;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
