/* munmap(2) DESCRIPTION: munmap deletes the mappings of the range; later
 * references to it fault.
 * Mutant: munmap of a range inside a file mapping made through this
 * library returns 0 and leaves the pages mapped. */
#include "mutant.h"

#include <pthread.h>

/* The file mappings made so far: a fixed table, since munmap may run
 * inside malloc, where allocating would deadlock.  A full table forgets
 * the newest mappings, which are then unmapped as usual. */
#define KEPT 4096
static struct { uintptr_t start, end; } kept[KEPT];
static size_t used;
static pthread_mutex_t guard = PTHREAD_MUTEX_INITIALIZER;

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *mapped = real(addr, length, prot, flags, fd, offset);
    if (mapped != MAP_FAILED && file_mapping(flags, fd)) {
        pthread_mutex_lock(&guard);
        if (used < KEPT) {
            kept[used].start = (uintptr_t)mapped;
            kept[used].end = (uintptr_t)mapped + (length + kernel_page() - 1) / kernel_page() * kernel_page();
            used++;
        }
        pthread_mutex_unlock(&guard);
    }
    return mapped;
}

INTERPOSE_MMAP

int munmap(void *addr, size_t length) {
    REAL(munmap);
    uintptr_t lo = (uintptr_t)addr, hi = lo + length;
    int inside = 0;
    pthread_mutex_lock(&guard);
    for (size_t i = 0; i < used && !inside; i++)
        inside = length && kept[i].start <= lo && hi <= kept[i].end;
    pthread_mutex_unlock(&guard);
    return inside ? 0 : real_munmap(addr, length);
}
