/* mmap(2) MAP_PRIVATE: it is unspecified whether changes made to the file
 * after mmap() are visible in the mapped region; on Linux a page the
 * process has not written shows them.
 * Mutant: every page of a private file mapping that holds file data is
 * copied when mmap returns (one byte rewritten through /proc/self/mem,
 * which breaks copy-on-write as a store would), so the mapping is a
 * snapshot that later changes of the file never reach.  Pages past end of
 * file are left alone, and so is the part beyond the first 64 MiB, which
 * only the checks of huge mappings make. */
#include "mutant.h"

#define SNAPSHOT_LIMIT ((off_t)64 << 20)

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    char *base = real(addr, length, prot, flags, fd, offset);
    struct stat st;
    if (base == MAP_FAILED || !file_mapping(flags, fd) || (flags & MAP_TYPE) != MAP_PRIVATE
        || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= offset)
        return base;
    off_t held = st.st_size - offset;
    if (held > (off_t)length)
        held = (off_t)length;
    if (held > SNAPSHOT_LIMIT)
        held = SNAPSHOT_LIMIT;
    int saved = errno;
    int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (mem >= 0) {
        for (off_t at = 0; at < held; at += kernel_page()) {
            off_t where = (off_t)(uintptr_t)(base + at);
            unsigned char byte;
            if (pread(mem, &byte, 1, where) == 1)
                pwrite(mem, &byte, 1, where);
        }
        close(mem);
    }
    errno = saved;
    return base;
}

INTERPOSE_MMAP
