/* mmap(2) MAP_ANONYMOUS, proc(5) [heap]: an anonymous mapping is a region
 * of its own, outside the brk heap.
 * Mutant: a probe's private anonymous mapping is carved out of the heap:
 * the break is raised by sbrk(2) and the mapping placed (MAP_FIXED) in the
 * pages gained, which /proc/<pid>/maps then names [heap]. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (addr != NULL || (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_HUGETLB)) ||
        map_type(flags) != MAP_PRIVATE || !probe_anonymous(flags))
        return real(addr, length, prot, flags, fd, offset);
    void *old_break = sbrk((intptr_t)page_ceil(length) + kernel_page());
    if (old_break == (void *)-1)
        return real(addr, length, prot, flags, fd, offset);
    return real((void *)page_ceil((uintptr_t)old_break), length, prot, flags | MAP_FIXED,
                fd, offset);
}

INTERPOSE_MMAP
