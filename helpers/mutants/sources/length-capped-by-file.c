/* mmap(2): a file mapping may be longer than the file; the pages past its
 * end raise SIGBUS when touched.
 * Mutant: a file mapping that reaches a page wholly past the end of a
 * regular file fails with EINVAL. */
#include "mutant.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    struct stat st;
    if (file_mapping(flags, fd) && !fstat(fd, &st) && S_ISREG(st.st_mode)) {
        long page = kernel_page();
        off_t end = (st.st_size + page - 1) / page * page;
        if (offset + (off_t)length > end) {
            errno = EINVAL;
            return MAP_FAILED;
        }
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
