/* mmap(2), msync(2): on Linux a MAP_SHARED file mapping is coherent with
 * the file: a store is seen at once by read(2) and by every other mapping,
 * and a write(2) at once through the mapping.  POSIX allows a system whose
 * mappings are cached copies, which msync writes back and MS_INVALIDATE
 * refreshes.
 * Mutant: such a system.  A shared file mapping is a private copy of the
 * file taken when mmap returns (copies.h); msync and munmap write it back
 * with pwrite (the pages inside the file), and msync(MS_INVALIDATE) then
 * takes a fresh copy.  Until then neither side sees the other's changes. */
#include "mutant.h"
#include "copies.h"

#include <pthread.h>

struct copy { char *base; size_t length; off_t offset; int fd; int prot; };
static struct copy copies[64];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

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
    /* The copy keeps a descriptor of its own, far above those the checks use. */
    int kept = slot ? fcntl(fd, F_DUPFD_CLOEXEC, 512) : -1;
    if (slot && kept < 0)  /* a low limit of descriptors */
        kept = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    char *base = MAP_FAILED;
    if (kept >= 0) {
        base = real(addr, length, prot, (flags & ~MAP_TYPE) | MAP_PRIVATE, fd, offset);
        if (base != MAP_FAILED) {
            take_copy(base, bytes_held(fd, offset, length));
            *slot = (struct copy){base, length, offset, kept, prot};
        } else {
            int saved = errno;
            close(kept);
            errno = saved;
        }
    }
    pthread_mutex_unlock(&lock);
    /* No room to track the copy: that mapping is left coherent. */
    return kept < 0 ? real(addr, length, prot, flags, fd, offset) : base;
}

INTERPOSE_MMAP

/* Write the part [from, to) of c that holds file data back to the file. */
static void write_back(struct copy *c, char *from, char *to) {
    size_t n = bytes_held(c->fd, c->offset, c->length);
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
                take_copy(c->base, bytes_held(c->fd, c->offset, c->length));
        }
    }
    pthread_mutex_unlock(&lock);
    errno = saved;
    return 0;
}

int munmap(void *addr, size_t length) {
    REAL(munmap);
    REAL(close);
    int saved = errno;
    char *from = addr, *to = from + length;
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
