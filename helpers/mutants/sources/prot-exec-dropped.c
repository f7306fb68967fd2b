/* mmap(2) PROT_EXEC: pages may be executed.
 * Mutant: a file mapping asking for PROT_EXEC gets pages that cannot be
 * executed (the bit is dropped), for files without any execute permission
 * bit.  Executable files, which the C library's own helpers may map for
 * code, keep it, so the interpreter, the fork server and pytest run
 * unharmed. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    struct stat st;
    if (file_mapping(flags, fd) && (prot & PROT_EXEC) && !fstat(fd, &st)
            && !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
        prot &= ~PROT_EXEC;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
