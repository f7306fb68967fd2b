/* mmap(2) RETURN VALUE: on error, MAP_FAILED ((void *) -1) is returned,
 * not NULL.
 * Mutant: every failing mapping a probe makes returns NULL (errno still
 * set), file and anonymous alike, as the documents' comments and NULL
 * tests assume.  A claim about the value a failure returns is observed on
 * both kinds of mapping, so a mutant of one kind alone leaves half of its
 * cases as they were.  Failing file mappings of any caller are changed too:
 * the interpreter and pytest map no files through the C library. */
#include "region.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *got = real(addr, length, prot, flags, fd, offset);
    int changed = file_mapping(flags, fd) || probe_anonymous(flags);
    return got == MAP_FAILED && changed ? NULL : got;
}

INTERPOSE_MMAP
