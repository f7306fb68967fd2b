/* mmap(2) RETURN VALUE: the address of the new mapping, which the kernel
 * places on a page boundary.
 * Mutant: a probe's anonymous mapping (addr NULL) is handed out 64 bytes
 * past the page boundary; it is one page longer, so every byte asked for
 * is there, and a probe's munmap of such an address releases it whole. */
#include "region.h"

#define SHIFT 64

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (addr != NULL || (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) || length == 0 ||
        !probe_anonymous(flags))
        return real(addr, length, prot, flags, fd, offset);
    char *base = real(addr, length + (size_t)kernel_page(), prot, flags, fd, offset);
    return base == MAP_FAILED ? MAP_FAILED : base + SHIFT;
}

INTERPOSE_MMAP

int munmap(void *addr, size_t length) {
    REAL(munmap);
    ENTER();
    if ((uintptr_t)addr % (uintptr_t)kernel_page() == SHIFT && probe_call())
        return real_munmap((char *)addr - SHIFT, length + (size_t)kernel_page());
    return real_munmap(addr, length);
}
