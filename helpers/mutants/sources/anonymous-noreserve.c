/* mmap(2) MAP_NORESERVE: no swap space is reserved for the mapping; what
 * it holds and how it behaves stay the same.
 * Negative control: every probe's anonymous mapping gets MAP_NORESERVE,
 * which changes nothing a claim predicts, so no verdict may move.  Huge
 * page mappings are left alone: for them the flag decides whether a
 * mapping without reserved huge pages fails with ENOMEM. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!(flags & MAP_HUGETLB) && probe_anonymous(flags))
        flags |= MAP_NORESERVE;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
