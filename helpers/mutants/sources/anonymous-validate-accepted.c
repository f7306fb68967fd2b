/* mmap(2) ERRORS: EINVAL for MAP_SHARED_VALIDATE (the value of
 * MAP_SHARED|MAP_PRIVATE) on an anonymous mapping, which takes only
 * MAP_SHARED or MAP_PRIVATE.
 * Mutant: a probe's anonymous mapping with both type bits is made as a
 * plain MAP_SHARED one, so every combination of the two types succeeds. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    int both = MAP_SHARED | MAP_PRIVATE;
    if (probe_anonymous(flags) && (flags & both) == both)
        flags &= ~MAP_PRIVATE;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
