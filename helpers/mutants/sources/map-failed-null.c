/* mmap(2) RETURN VALUE: on error, MAP_FAILED ((void *) -1) is returned.
 * Mutant: a failing file mapping returns NULL instead (errno still set). */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *result = real(addr, length, prot, flags, fd, offset);
    return result == MAP_FAILED && file_mapping(flags, fd) ? NULL : result;
}

INTERPOSE_MMAP
