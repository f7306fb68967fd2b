/* mmap(2) RETURN VALUE: on error, MAP_FAILED ((void *) -1) is returned,
 * not NULL.
 * Mutant: a probe's failing anonymous mapping returns NULL (errno still
 * set), as the documents' comments and NULL tests assume. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *got = real(addr, length, prot, flags, fd, offset);
    return got == MAP_FAILED && probe_anonymous(flags) ? NULL : got;
}

INTERPOSE_MMAP
