/* munmap(2): any page-aligned range may be unmapped, whatever length the
 * mapping was made with; a range with no mapping in it is no error.
 * Mutant: munmap at the start of a file mapping fails with EINVAL unless
 * it is given the length the mapping was made with. */
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
    int refused = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
        if (regions[i].base && regions[i].base == addr) {
            if (regions[i].length != length)
                refused = 1;
            else
                regions[i].base = NULL;
        }
    pthread_mutex_unlock(&lock);
    if (refused) {
        errno = EINVAL;
        return -1;
    }
    return real_munmap(addr, length);
}
