/* mmap(2): the bytes of the last page of a file mapping past the end of the
 * file are zeroed when the page is mapped, and changes to that region are
 * not written to the file.
 * Mutant: msync of a shared file mapping writes the whole last page back,
 * tail included, so the file grows to the page's end and holds whatever
 * was stored there. */
#include "mutant.h"
#include "regions.h"

static void write_tail(uintptr_t addr, size_t length) {
    struct region r;
    struct stat st;
    if (region_of(addr, &r) || r.perms[3] != 's' || r.path[0] != '/')
        return;
    int fd = open(r.path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (unsigned long long)st.st_size >= r.offset) {
        uintptr_t eof = r.start + (uintptr_t)(st.st_size - (off_t)r.offset);
        uintptr_t page_end = (eof + (uintptr_t)kernel_page() - 1) & ~((uintptr_t)kernel_page() - 1);
        static unsigned char tail[65536];  /* a copy: the source is the file's own page */
        if (eof < page_end && eof >= addr && page_end <= addr + length && page_end <= r.end
            && page_end - eof <= sizeof tail) {
            memcpy(tail, (const void *)eof, page_end - eof);
            pwrite(fd, tail, page_end - eof, st.st_size);
        }
    }
    close(fd);
}

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    int saved = errno;
    write_tail((uintptr_t)addr, length);
    errno = saved;
    return real_msync(addr, length, flags);
}
