/* mmap(2) MAP_SHARED_VALIDATE: like MAP_SHARED, but fails with EOPNOTSUPP
 * for unknown flags (and honours MAP_SYNC).
 * Mutant: MAP_SHARED_VALIDATE behaves like plain MAP_SHARED, dropping the
 * flags it does not know and MAP_SYNC. */
#include "mutant.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#define LEGACY (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE \
                | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK \
                | MAP_STACK | MAP_HUGETLB | MAP_FIXED_NOREPLACE)

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && (flags & MAP_TYPE) == MAP_SHARED_VALIDATE)
        flags = (flags & LEGACY & ~MAP_TYPE) | MAP_SHARED;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
