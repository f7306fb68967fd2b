/* mmap(2) DESCRIPTION and SIGBUS: a file mapping may be longer than the
 * file, even when the file is empty; only an access to a page wholly past
 * end of file fails, with SIGBUS.
 * Mutant: mmap of a regular file that holds no bytes fails with EINVAL, as
 * on a system that refuses to map an empty file; a file of one byte or
 * more maps as before. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    struct stat st;
    int saved = errno;
    if (file_mapping(flags, fd) && !fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size == 0) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    errno = saved;
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
