/* mmap(2): PROT_WRITE without PROT_READ is a valid protection (on x86 it
 * implies read access).
 * Mutant: a mapping asking for PROT_WRITE alone fails with EACCES, of a
 * file or anonymous (the interpreter, the fork server and pytest never ask
 * for write-only memory, so they run unharmed). */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if ((prot & PROT_WRITE) && !(prot & PROT_READ)) {
        errno = EACCES;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
