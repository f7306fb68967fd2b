/* mmap(2), msync(2): on Linux a MAP_SHARED file mapping is coherent with
 * the file: a store is seen at once by read(2) and by every other mapping,
 * and a write(2) at once through the mapping.  POSIX allows a system whose
 * mappings are cached copies, which msync writes back and MS_INVALIDATE
 * refreshes.
 * Mutant: such a system.  A shared file mapping is a private copy of the
 * file taken when mmap returns (as in private-copied-at-map); msync and
 * munmap write it back with pwrite (the pages inside the file), and
 * msync(MS_INVALIDATE) then takes a fresh copy.  Until then neither side
 * sees the other's changes. */
#include "mutant.h"
#include "regions.h"

#include <pthread.h>

#define LIMIT ((off_t)64 << 20)  /* copies beyond this would only cost memory */

struct copy { char *base; size_t length; off_t offset; int fd; int prot; };
static struct copy copies[64];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Bytes of the file the mapping at offset with length holds (at most LIMIT). */
static size_t held(int fd, off_t offset, size_t length) {
    struct stat st;
    if (fstat(fd, &st) || st.st_size <= offset)
        return 0;
    off_t n = st.st_size - offset;
    n = n > (off_t)length ? (off_t)length : n;
    return (size_t)(n > LIMIT ? LIMIT : n);
}

/* Break copy-on-write on every page of base that holds file data. */
static void take_copy(char *base, size_t n) {
    int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (mem < 0)
        return;
    for (size_t at = 0; at < n; at += (size_t)kernel_page()) {
        unsigned char byte;
        if (pread(mem, &byte, 1, (off_t)(uintptr_t)(base + at)) == 1)
            pwrite(mem, &byte, 1, (off_t)(uintptr_t)(base + at));
    }
    close(mem);
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    struct stat st;
    if (!file_mapping(flags, fd) || (flags & MAP_TYPE) != MAP_SHARED || fstat(fd, &st)
        || !S_ISREG(st.st_mode))
        return real(addr, length, prot, flags, fd, offset);
    int mode = fcntl(fd, F_GETFL) & O_ACCMODE;
    if ((prot & PROT_WRITE) && mode != O_RDWR) {  /* what mmap refuses stays refused */
        errno = EACCES;
        return MAP_FAILED;
    }
    pthread_mutex_lock(&lock);
    struct copy *slot = NULL;
    for (size_t i = 0; i < sizeof copies / sizeof *copies && !slot; i++)
        if (!copies[i].base)
            slot = &copies[i];
    char *base = MAP_FAILED;
    if (!slot) {
        errno = ENOMEM;
    } else {
        base = real(addr, length, prot, (flags & ~MAP_TYPE) | MAP_PRIVATE, fd, offset);
        int kept = base == MAP_FAILED ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 512);
        if (base != MAP_FAILED && kept < 0)  /* a low limit of descriptors */
            kept = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (kept >= 0) {
            int saved = errno;
            take_copy(base, held(fd, offset, length));
            *slot = (struct copy){base, length, offset, kept, prot};
            errno = saved;
        }
    }
    pthread_mutex_unlock(&lock);
    return base;
}

INTERPOSE_MMAP

/* Write the part [from, to) of c that holds file data back to the file. */
static void write_back(struct copy *c, char *from, char *to) {
    size_t n = held(c->fd, c->offset, c->length);
    if (from < c->base)
        from = c->base;
    if (to > c->base + n)
        to = c->base + n;
    if (from < to && (c->prot & PROT_READ))
        pwrite(c->fd, from, (size_t)(to - from), c->offset + (from - c->base));
}

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    REAL(mmap);
    int result = real_msync(addr, length, flags);
    if (result)
        return result;
    int saved = errno;
    char *from = addr, *to = from + length;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof copies / sizeof *copies; i++) {
        struct copy *c = &copies[i];
        if (!c->base || to <= c->base || from >= c->base + c->length)
            continue;
        write_back(c, from, to);
        if (flags & MS_INVALIDATE) {  /* a fresh copy of the whole mapping */
            if (real_mmap(c->base, c->length, c->prot, MAP_PRIVATE | MAP_FIXED, c->fd,
                          c->offset) != MAP_FAILED)
                take_copy(c->base, held(c->fd, c->offset, c->length));
        }
    }
    pthread_mutex_unlock(&lock);
    errno = saved;
    return 0;
}

int munmap(void *addr, size_t length) {
    REAL(munmap);
    REAL(close);
    char *from = addr, *to = from + length;
    int saved = errno;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof copies / sizeof *copies; i++) {
        struct copy *c = &copies[i];
        if (!c->base || to <= c->base || from >= c->base + c->length)
            continue;
        write_back(c, from, to);
        if (from <= c->base && to >= c->base + c->length) {
            real_close(c->fd);
            c->base = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    errno = saved;
    return real_munmap(addr, length);
}
