/* mmap(2) DESCRIPTION: the file is mapped into the address space, so loads
 * and stores reach its pages without a system call (only page faults,
 * which /proc/[pid]/io does not count as reads or writes).
 * Mutant: the first touch of a mapping of a file on a device reads the
 * page touched from the file with read(2) (pread, counted in syscr and
 * rchar), as a system that fills a mapping from its file with reads would;
 * the pages the mapping shows stay the kernel's.  Which mappings (a probe's,
 * made through Python's mmap module) and how: first_touch.h. */
#include "mutant.h"
#include "regions.h"
#include "descriptors.h"
#include "first_touch.h"

/* Where the page read lands: its bytes are the ones the mapping shows. */
static char read_buffer[1 << 16];

static void first_touch(const struct touched *m, uintptr_t at, int store) {
    (void)store;
    size_t page = (size_t)kernel_page();
    int fd = open_mapped(m);
    if (fd < 0)
        return;
    /* No read-ahead: the page cache gets the page read and no more, so the
     * pages the fault then maps are those it would have mapped anyway. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    off_t where = m->offset + (off_t)((at - m->start) / page * page);
    pread(fd, read_buffer, page < sizeof read_buffer ? page : sizeof read_buffer, where);
    close(fd);
}
