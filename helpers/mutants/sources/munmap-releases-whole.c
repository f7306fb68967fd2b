/* munmap(2): the call deletes the mappings of the pages in the range
 * [addr, addr+length); the rest of a mapping stays.
 * Mutant: munmap at the start of a file mapping releases the whole mapping,
 * whatever length it is given. */
#include "mutant.h"

#include <pthread.h>

struct region { void *base; size_t length; };
static struct region regions[256];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *base = real(addr, length, prot, flags, fd, offset);
    if (base == MAP_FAILED || !file_mapping(flags, fd))
        return base;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
        if (!regions[i].base || regions[i].base == base) {
            regions[i] = (struct region){base, length};
            break;
        }
    pthread_mutex_unlock(&lock);
    return base;
}

INTERPOSE_MMAP

int munmap(void *addr, size_t length) {
    REAL(munmap);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
        if (regions[i].base && regions[i].base == addr) {
            if (regions[i].length > length)
                length = regions[i].length;
            regions[i].base = NULL;
        }
    pthread_mutex_unlock(&lock);
    return real_munmap(addr, length);
}
