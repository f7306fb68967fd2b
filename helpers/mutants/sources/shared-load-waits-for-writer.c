/* pipe(7) waits a reader of an empty pipe while a writer exists; mmap(2)
 * knows no such wait: a load from a MAP_SHARED mapping returns what the
 * page holds, at once.
 * Mutant: the first load from a shared mapping of a file on a device,
 * where that page of the file holds only zeros while another process
 * shares a mapping of the file (a peer that may store into it), waits, as
 * a read of an empty pipe does while a writer exists, until a byte of the
 * page is not zero (bounded: WAIT_S seconds, after which it returns what
 * the page holds).  Stores never wait, nor does anything where the
 * processor does not say whether a fault was a store, and the waiting
 * makes no read or write calls (the page is looked at through a mapping of
 * its own).  Which mappings (a probe's, made through Python's mmap module)
 * and how: first_touch.h. */
#include "mutant.h"
#include "regions.h"
#include "descriptors.h"
#include "first_touch.h"

#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>

#define WAIT_S 5
#define POLL_NS 5000000L

/* Whether the page at ``where`` of the file holds only zeros (bytes past
 * end of file are none of it); -1 when it lies wholly past end of file. */
static int page_all_zero(int fd, off_t where) {
    REAL(mmap);
    REAL(munmap);
    struct stat st;
    size_t page = (size_t)kernel_page();
    if (fstat(fd, &st) || st.st_size <= where)
        return -1;
    size_t n = st.st_size - where < (off_t)page ? (size_t)(st.st_size - where) : page;
    const unsigned char *view = real_mmap(NULL, page, PROT_READ, MAP_SHARED, fd, where);
    if (view == MAP_FAILED)
        return -1;
    int zero = 1;
    for (size_t i = 0; i < n && zero; i++)
        zero = view[i] == 0;
    real_munmap((void *)view, page);
    return zero;
}

/* Whether a line of a maps file is a shared mapping of the file.  Its
 * protection does not count: a peer's mapping may still be hidden until
 * its first touch (first_touch.h), and mprotect can make any writable. */
static int shared_of(const char *line, const struct touched *m) {
    const char *p = line;
    parse_hex(&p);
    if (*p++ != '-')
        return 0;
    parse_hex(&p);
    if (*p++ != ' ' || strlen(p) < 5 || p[3] != 's')
        return 0;
    p += 5;
    parse_hex(&p);  /* offset */
    if (*p++ != ' ')
        return 0;
    uintptr_t major_ = parse_hex(&p);
    if (*p++ != ':')
        return 0;
    uintptr_t minor_ = parse_hex(&p);
    if (*p++ != ' ')
        return 0;
    unsigned long long inode = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        inode = inode * 10 + (unsigned long long)(*p - '0');
    return major_ == major(m->dev) && minor_ == minor(m->dev) && inode == m->ino;
}

static int shared_line(const char *line, void *ctx) {
    return shared_of(line, ctx);
}

/* Whether the maps file of process ``pid`` shows a shared mapping of the file. */
static int maps_shared(const char *pid, const struct touched *m) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/maps", pid);
    return each_maps_line(path, shared_line, (void *)m);
}

/* Whether a process other than this one maps the file shared, as a pipe's
 * reader waits only while a writer exists.  Raw getdents64, no malloc: this
 * runs in a signal handler. */
static int another_sharer(const struct touched *m) {
    char entries[4096], self[24];
    snprintf(self, sizeof self, "%d", (int)getpid());
    int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return 0;
    int found = 0;
    long got;
    while (!found && (got = syscall(SYS_getdents64, dir, entries, sizeof entries)) > 0) {
        for (long at = 0; at < got && !found;) {
            struct {
                unsigned long long ino;
                long long off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *entry = (void *)(entries + at);
            at += entry->reclen;
            if (entry->name[0] >= '1' && entry->name[0] <= '9' && strcmp(entry->name, self))
                found = maps_shared(entry->name, m);
        }
    }
    close(dir);
    return found;
}

static void first_touch(const struct touched *m, uintptr_t at, int store) {
    if (store != 0 || (m->flags & MAP_TYPE) != MAP_SHARED)  /* or not known to be a load */
        return;
    size_t page = (size_t)kernel_page();
    off_t where = m->offset + (off_t)((at - m->start) / page * page);
    int fd = open_mapped(m);
    if (fd < 0)
        return;
    if (page_all_zero(fd, where) == 1 && another_sharer(m)) {
        struct timespec nap = {0, POLL_NS};
        for (long waited = 0; waited < WAIT_S * 1000000000L && page_all_zero(fd, where) == 1;
             waited += POLL_NS)
            nanosleep(&nap, NULL);
    }
    close(fd);
}
