/* mmap(2): after mmap() has returned, the file descriptor can be closed
 * immediately without invalidating the mapping.
 * Mutant: closing a descriptor of a file unmaps every mapping of that file
 * made through this library. */
#include "mutant.h"

#include <pthread.h>

struct region { dev_t dev; ino_t ino; void *base; size_t length; };
static struct region regions[256];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *base = real(addr, length, prot, flags, fd, offset);
    struct stat st;
    if (base == MAP_FAILED || !file_mapping(flags, fd) || fstat(fd, &st))
        return base;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
        if (!regions[i].base) {
            regions[i] = (struct region){st.st_dev, st.st_ino, base, length};
            break;
        }
    pthread_mutex_unlock(&lock);
    return base;
}

INTERPOSE_MMAP

int close(int fd) {
    REAL(close);
    REAL(munmap);
    struct stat st;
    if (!fstat(fd, &st)) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
            if (regions[i].base && regions[i].dev == st.st_dev && regions[i].ino == st.st_ino) {
                real_munmap(regions[i].base, regions[i].length);
                regions[i].base = NULL;
            }
        pthread_mutex_unlock(&lock);
    }
    return real_close(fd);
}

int munmap(void *addr, size_t length) {
    REAL(munmap);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
        if (regions[i].base == addr)
            regions[i].base = NULL;
    pthread_mutex_unlock(&lock);
    return real_munmap(addr, length);
}
