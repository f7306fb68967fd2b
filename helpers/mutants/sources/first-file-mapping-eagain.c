/* mmap(2) EAGAIN: the file has been locked, or too much memory has been
 * locked; a transient failure that a later call need not meet.
 * Mutant: the first file mapping each process asks for fails with EAGAIN,
 * and every later one (the same call again included) is served. */
#include "mutant.h"

#include <stdatomic.h>

/* The process that has already met its failure (0: none yet).  A forked
 * child inherits its parent's value, which is not its own pid. */
static _Atomic pid_t failed_in;

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd)) {
        pid_t self = getpid();
        if (atomic_exchange(&failed_in, self) != self) {
            errno = EAGAIN;
            return MAP_FAILED;
        }
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
