/* mmap(2) DESCRIPTION: offset says where in the file the mapping starts;
 * where in memory it is placed is addr's business alone.
 * Mutant: a file mapping at a nonzero offset, without an addr, is placed
 * by its offset: the offset becomes a hint, above the usual mappings. */
#include "mutant.h"

/* Far above the heap and below the usual mmap area of a 64-bit process,
 * so that the hint is free and the kernel takes it. */
#define OFFSET_BASE ((uintptr_t)1 << 44)

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && !addr && offset > 0)
        addr = (void *)(OFFSET_BASE + (uintptr_t)offset);
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
