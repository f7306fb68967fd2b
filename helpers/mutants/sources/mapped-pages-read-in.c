/* mmap(2) DESCRIPTION: the file's pages are mapped into the address
 * space, so loads and stores reach them without a system call (only page
 * faults, which /proc/[pid]/io does not count as reads or writes).
 * Mutant: the first touch of each page of a probe's file mapping is served
 * as a system without an MMU-backed page cache would serve it, by a
 * read(2) of that page of the file (pread, counted in syscr and rchar).
 * The data the mapping shows stay the kernel's (first_touch.h). */
#include "mutant.h"
#include "regions.h"
#include "first_touch.h"

/* Where the page read lands: the bytes are the ones the mapping holds. */
static char page_buffer[1 << 16];

static int first_touch(const struct touched *m, size_t page) {
    size_t size = (size_t)kernel_page();
    int fd = open_mapped(m);
    if (fd < 0)
        return -1;
    ssize_t got = pread(fd, page_buffer, size < sizeof page_buffer ? size : sizeof page_buffer,
                        m->offset + (off_t)(page * size));
    close(fd);
    return got < 0 ? -1 : 0;
}
