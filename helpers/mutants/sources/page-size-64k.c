/* sysconf(3) _SC_PAGESIZE, getpagesize(2): the page size, which mmap(2)
 * offsets must be multiples of.
 * Mutant: in the Python interpreters of the run (both layers of the suite)
 * the page size is 64 KiB, and file mappings refuse offsets that are not
 * multiples of it (EINVAL); mincore answers one byte per 64 KiB.  Other
 * programs (the compiler and linker some checks run) see the kernel's page
 * size: their allocators rely on it matching what mmap really does. */
#include "mutant.h"

#include <string.h>

#define PAGE64 65536L

static int lying(void) {
    static int answer = -1;
    if (answer < 0)
        answer = strncmp(program_invocation_short_name, "python", 6) == 0;
    return answer;
}

long sysconf(int name) {
    REAL(sysconf);
    return name == _SC_PAGESIZE && lying() ? PAGE64 : real_sysconf(name);
}

int getpagesize(void) {
    return lying() ? (int)PAGE64 : (int)kernel_page();
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (lying() && file_mapping(flags, fd) && offset % PAGE64) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP

/* One byte per 64 KiB page: resident when any kernel page in it is. */
int mincore(void *addr, size_t length, unsigned char *vec) {
    REAL(mincore);
    if (!lying())
        return real_mincore(addr, length, vec);
    long small = kernel_page(), ratio = PAGE64 / small;
    size_t pages = (length + (size_t)small - 1) / (size_t)small;
    unsigned char fine[pages ? pages : 1];
    int status = real_mincore(addr, length, fine);
    if (status)
        return status;
    for (size_t i = 0; i < pages; i++) {
        if (i % (size_t)ratio == 0)
            vec[i / (size_t)ratio] = 0;
        vec[i / (size_t)ratio] |= fine[i] & 1;
    }
    return 0;
}
