/* mmap(2) RETURN VALUE: the address of the new mapping, which the kernel
 * places on a page boundary.
 * Mutant: a file mapping, and a probe's anonymous mapping asked for with
 * addr NULL, is handed out 64 bytes past the page boundary (the mapping is
 * one page longer, so every byte asked for is there); a munmap of such an
 * address releases it whole. */
#include "mutant.h"

#define SHIFT 64

static int shifted(void *addr, int flags, int fd) {
    if (file_mapping(flags, fd))
        return !(flags & MAP_FIXED);
    return addr == NULL && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))
        && probe_anonymous(flags);
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (length == 0 || !shifted(addr, flags, fd))
        return real(addr, length, prot, flags, fd, offset);
    char *base = real(addr, length + (size_t)kernel_page(), prot, flags, fd, offset);
    return base == MAP_FAILED ? MAP_FAILED : base + SHIFT;
}

INTERPOSE_MMAP

/* Release a shifted mapping whole, from its real start. */
int munmap(void *addr, size_t length) {
    REAL(munmap);
    if ((uintptr_t)addr % (uintptr_t)kernel_page() == SHIFT)
        return real_munmap((char *)addr - SHIFT, length + (size_t)kernel_page());
    return real_munmap(addr, length);
}
