/* mmap(2) SIGBUS: touching a page of a file mapping that lies wholly past
 * the end of the file raises SIGBUS; a store through a mapping never
 * changes the file's size.
 * Mutant: a store into such a page of a writable MAP_SHARED file mapping
 * grows the file to that page's end and then succeeds.  A SIGBUS handler,
 * installed when such a mapping is made, does it; any other SIGBUS goes to
 * the handler that was there before (the default one kills as before). */
#include "mutant.h"
#include "regions.h"

#include <signal.h>

static struct sigaction previous;

static void grow(int signum, siginfo_t *info, void *context) {
    (void)signum, (void)context;
    struct region r;
    uintptr_t at = (uintptr_t)info->si_addr;
    int saved = errno;
    if (info->si_code == BUS_ADRERR && !region_of(at, &r) && r.perms[1] == 'w'
        && r.perms[3] == 's' && r.path[0] == '/') {
        off_t page_end = (off_t)r.offset
            + (off_t)(((at - r.start) | ((uintptr_t)kernel_page() - 1)) + 1);
        struct stat st;
        int fd = open(r.path, O_RDWR | O_CLOEXEC);
        int grown = fd >= 0 && !fstat(fd, &st) && st.st_size < page_end
            && !ftruncate(fd, page_end);
        if (fd >= 0)
            close(fd);
        if (grown) {
            errno = saved;
            return;  /* the store runs again, now inside the file */
        }
    }
    sigaction(SIGBUS, &previous, NULL);  /* the fault is not ours: it recurs there */
    errno = saved;
}

static void install(void) {
    struct sigaction mine = {0}, old;
    mine.sa_sigaction = grow;
    mine.sa_flags = SA_SIGINFO;
    sigemptyset(&mine.sa_mask);
    if (!sigaction(SIGBUS, &mine, &old) && old.sa_sigaction != grow)
        previous = old;
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *base = real(addr, length, prot, flags, fd, offset);
    if (base != MAP_FAILED && file_mapping(flags, fd) && (prot & PROT_WRITE)
        && (flags & MAP_TYPE) == MAP_SHARED) {
        int saved = errno;
        install();
        errno = saved;
    }
    return base;
}

INTERPOSE_MMAP
