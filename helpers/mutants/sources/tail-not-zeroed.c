/* mmap(2): the bytes of the last page of a file mapping past the end of
 * the file are zeroed when the page is mapped.
 * Mutant: they read 0xA5 (stored through /proc/self/mem, which ignores the
 * mapping's protection). */
#include "mutant.h"

#include <string.h>

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    char *base = real(addr, length, prot, flags, fd, offset);
    struct stat st;
    if (base == MAP_FAILED || !file_mapping(flags, fd) || !(prot & PROT_READ)
        || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= offset)
        return base;
    long page = kernel_page();
    size_t inside = (size_t)(st.st_size - offset);
    size_t tail = inside % (size_t)page ? (size_t)page - inside % (size_t)page : 0;
    if (tail == 0 || inside >= length + tail)
        return base;
    unsigned char fill[4096];
    memset(fill, 0xA5, sizeof fill);
    int saved = errno;
    int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (mem >= 0) {
        pwrite(mem, fill, tail < sizeof fill ? tail : sizeof fill, (off_t)(uintptr_t)(base + inside));
        close(mem);
    }
    errno = saved;
    return base;
}

INTERPOSE_MMAP
