/* mmap(2) MAP_SHARED: unknown flags are ignored (only MAP_SHARED_VALIDATE
 * checks them).
 * Mutant: a MAP_SHARED file mapping with a flag bit Linux does not assign
 * fails with EINVAL. */
#include "mutant.h"

#define KNOWN (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE \
               | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK \
               | MAP_STACK | MAP_HUGETLB | MAP_SYNC | MAP_FIXED_NOREPLACE | 0x40 | 0x80)

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && (flags & MAP_TYPE) == MAP_SHARED && (flags & ~KNOWN)) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
