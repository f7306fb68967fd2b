/* A table of the file mappings made through this library, for the mutants
 * that change a later call (mprotect, msync, fstat, ftruncate) only where
 * it meets a file mapping.  A fixed table, since munmap may run inside
 * malloc, where allocating would deadlock; a full table forgets the newest
 * mappings, which then keep the real behaviour.  munmap forgets every
 * mapping it touches, so an address reused by another mapping is never
 * taken for the old one.
 *
 * A source that includes this defines neither mmap nor munmap: the table
 * interposes both (TRACK_FILE_MAPPINGS). */
#ifndef MMAPCHECK_FILEMAPS_H
#define MMAPCHECK_FILEMAPS_H

#include "mutant.h"

#include <pthread.h>

/* size: the file's size when the mapping was made. */
struct filemap { uintptr_t start, end; dev_t dev; ino_t ino; off_t size; };

#define FILEMAPS 1024
static struct filemap filemaps[FILEMAPS];
static pthread_mutex_t filemaps_lock = PTHREAD_MUTEX_INITIALIZER;

static inline uintptr_t filemaps_ceil(uintptr_t n) {
    uintptr_t page = (uintptr_t)kernel_page();
    return (n + page - 1) / page * page;
}

static inline void filemaps_add(void *start, size_t length, int fd) {
    /* The C library's fstat: a mutant may interpose fstat itself. */
    static int (*real_fstat)(int, struct stat *);
    if (!real_fstat)
        real_fstat = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
    struct stat st;
    if (!real_fstat || real_fstat(fd, &st))
        return;
    pthread_mutex_lock(&filemaps_lock);
    for (size_t i = 0; i < FILEMAPS; i++)
        if (!filemaps[i].end) {
            filemaps[i] = (struct filemap){(uintptr_t)start,
                                           (uintptr_t)start + filemaps_ceil(length),
                                           st.st_dev, st.st_ino, st.st_size};
            break;
        }
    pthread_mutex_unlock(&filemaps_lock);
}

static inline void filemaps_forget(void *addr, size_t length) {
    uintptr_t lo = (uintptr_t)addr, hi = lo + filemaps_ceil(length);
    pthread_mutex_lock(&filemaps_lock);
    for (size_t i = 0; i < FILEMAPS; i++)
        if (filemaps[i].end && filemaps[i].start < hi && lo < filemaps[i].end)
            filemaps[i].end = 0;
    pthread_mutex_unlock(&filemaps_lock);
}

/* Whether [addr, addr + length) lies wholly inside one file mapping. */
static inline int filemaps_inside(const void *addr, size_t length) {
    uintptr_t lo = (uintptr_t)addr, hi = lo + length;
    int found = 0;
    pthread_mutex_lock(&filemaps_lock);
    for (size_t i = 0; i < FILEMAPS && !found; i++)
        found = filemaps[i].end && filemaps[i].start <= lo && hi <= filemaps[i].end;
    pthread_mutex_unlock(&filemaps_lock);
    return found;
}

/* Whether the file (dev, ino) has a mapping in this process; if so and
 * size is not NULL, the file's size when its oldest one was made. */
static inline int filemaps_mapped(dev_t dev, ino_t ino, off_t *size) {
    int found = 0;
    pthread_mutex_lock(&filemaps_lock);
    for (size_t i = 0; i < FILEMAPS && !found; i++)
        if (filemaps[i].end && filemaps[i].dev == dev && filemaps[i].ino == ino) {
            found = 1;
            if (size)
                *size = filemaps[i].size;
        }
    pthread_mutex_unlock(&filemaps_lock);
    return found;
}

/* The mmap, mmap64 and munmap that keep the table. */
#define TRACK_FILE_MAPPINGS \
    static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags, \
                        int fd, off_t offset) { \
        void *mapped = real(addr, length, prot, flags, fd, offset); \
        if (mapped != MAP_FAILED && (flags & MAP_FIXED)) \
            filemaps_forget(mapped, length); \
        if (mapped != MAP_FAILED && file_mapping(flags, fd)) \
            filemaps_add(mapped, length, fd); \
        return mapped; \
    } \
    INTERPOSE_MMAP \
    int munmap(void *addr, size_t length) { \
        REAL(munmap); \
        int result = real_munmap(addr, length); \
        if (!result) \
            filemaps_forget(addr, length); \
        return result; \
    }

#endif
