/* Private copies of the pages of a file mapping, for mutants that make a
 * mapping a snapshot of its file.  Needs "mutant.h" first. */
#ifndef MMAPCHECK_COPIES_H
#define MMAPCHECK_COPIES_H

/* Copies beyond this would only cost memory: the checks of huge mappings
 * never look at the copy. */
#define COPY_LIMIT ((off_t)64 << 20)

/* Return how many bytes of the file behind fd a mapping of length bytes at
 * offset holds (0 when it starts past end of file), at most COPY_LIMIT. */
static inline size_t bytes_held(int fd, off_t offset, size_t length) {
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= offset)
        return 0;
    off_t n = st.st_size - offset;
    n = n > (off_t)length ? (off_t)length : n;
    return (size_t)(n > COPY_LIMIT ? COPY_LIMIT : n);
}

/* Give the first n bytes of the private mapping at base their own pages:
 * one byte of each page is rewritten through /proc/self/mem, which breaks
 * copy-on-write as a store would, whatever the mapping's protection. */
static inline void take_copy(char *base, size_t n) {
    int saved = errno;
    int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (mem >= 0) {
        for (size_t at = 0; at < n; at += (size_t)kernel_page()) {
            unsigned char byte;
            off_t where = (off_t)(uintptr_t)(base + at);
            if (pread(mem, &byte, 1, where) == 1)
                pwrite(mem, &byte, 1, where);
        }
        close(mem);
    }
    errno = saved;
}

#endif
