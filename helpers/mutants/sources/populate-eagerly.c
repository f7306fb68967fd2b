/* mmap(2) MAP_POPULATE: without it, pages of a file mapping are brought in
 * on first access (demand paging).
 * Mutant: every file mapping is populated when mmap returns, as if
 * MAP_POPULATE were always given. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd))
        flags |= MAP_POPULATE;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
