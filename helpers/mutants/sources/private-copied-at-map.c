/* mmap(2) MAP_PRIVATE: it is unspecified whether changes made to the file
 * after mmap() are visible in the mapped region; on Linux a page the
 * process has not written shows them.
 * Mutant: every page of a private file mapping that holds file data gets
 * its own copy when mmap returns (copies.h), so the mapping is a snapshot
 * that later changes of the file never reach.  Pages past end of file are
 * left alone, and so is the part beyond the first 64 MiB. */
#include "mutant.h"
#include "copies.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    char *base = real(addr, length, prot, flags, fd, offset);
    if (base != MAP_FAILED && file_mapping(flags, fd) && (flags & MAP_TYPE) == MAP_PRIVATE)
        take_copy(base, bytes_held(fd, offset, length));
    return base;
}

INTERPOSE_MMAP
