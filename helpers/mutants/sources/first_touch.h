/* What the mutants that act on the first touch of a file mapping's page
 * share, as a system that serves page faults itself would.
 *
 * A probe's file mapping (probe_call() in mutant.h) of a regular file is
 * made as asked, so that mmap fails or succeeds exactly as before, and then
 * hidden behind PROT_NONE.  The first load or store of each page faults; a
 * SIGSEGV handler runs the mutant's first_touch() for that page, gives the
 * page the protection mmap was asked for and lets the access run again.
 * The data stay the kernel's own shared or private pages, so sharing,
 * coherence and write-back are untouched: only what happens at the first
 * touch changes.
 *
 * A fault the mutant does not own (another address, a page touched
 * before, a page mprotect or munmap has been asked about since) goes to
 * the handler that was there before, so a check that expects SIGSEGV gets
 * it; with the default disposition the fault recurs there and kills.
 * mprotect, munmap and mremap settle the pages they name first: the pages
 * get back their asked-for protection and the mutant forgets them, so a
 * protection a check sets is the one the check then meets.
 *
 * Each mutant defines first_touch(const struct touched *m, size_t page),
 * which this header declares, after including it.  Needs "mutant.h" and
 * "regions.h" first. */
#ifndef MMAPCHECK_FIRST_TOUCH_H
#define MMAPCHECK_FIRST_TOUCH_H

#include <limits.h>
#include <signal.h>
#include <stdarg.h>

/* Mappings followed at once, and the largest followed; larger or further
 * mappings are left as the kernel made them. */
#define TOUCH_SLOTS 32
#define TOUCH_MAX_PAGES 65536

/* One followed mapping: where it is, what it maps, which pages wait for
 * their first touch. */
struct touched {
    uintptr_t start;
    size_t pages;
    int prot, flags;
    off_t offset;                 /* of the file, at start */
    dev_t dev;
    ino_t ino;
    char path[PATH_MAX];          /* of the file when it was mapped */
    unsigned char pending[TOUCH_MAX_PAGES / 8];
};

static struct touched touch_slots[TOUCH_SLOTS];
static struct sigaction touch_previous;

static int first_touch(const struct touched *m, size_t page);

static inline int pending_page(const struct touched *m, size_t page) {
    return m->pending[page / 8] >> (page % 8) & 1;
}

static inline void clear_page(struct touched *m, size_t page) {
    m->pending[page / 8] &= (unsigned char)~(1u << (page % 8));
}

/* Forget the pages of [addr, addr+length) that wait for a first touch;
 * with restore, give them their asked-for protection first. */
static void settle(uintptr_t addr, size_t length, int restore) {
    REAL(mprotect);
    uintptr_t page = (uintptr_t)kernel_page();
    uintptr_t from = addr - addr % page, to = addr + length;
    for (int s = 0; s < TOUCH_SLOTS; s++) {
        struct touched *m = &touch_slots[s];
        uintptr_t end = m->start + m->pages * page;
        if (!m->pages || to <= m->start || end <= from)
            continue;
        size_t first = from > m->start ? (from - m->start) / page : 0;
        size_t last = to < end ? (to - m->start + page - 1) / page : m->pages;
        for (size_t p = first; p < last; p++) {
            if (pending_page(m, p)) {
                if (restore)
                    real_mprotect((void *)(m->start + p * page), page, m->prot);
                clear_page(m, p);
            }
        }
        if (first == 0 && last == m->pages)
            m->pages = 0;
    }
}

static void pass_on(int signum, siginfo_t *info, void *context) {
    if (touch_previous.sa_flags & SA_SIGINFO) {
        touch_previous.sa_sigaction(signum, info, context);
    } else if (touch_previous.sa_handler != SIG_DFL && touch_previous.sa_handler != SIG_IGN) {
        touch_previous.sa_handler(signum);
    } else {
        sigaction(SIGSEGV, &touch_previous, NULL);  /* the fault recurs there */
    }
}

static void on_fault(int signum, siginfo_t *info, void *context) {
    REAL(mprotect);
    int saved = errno;
    uintptr_t at = (uintptr_t)info->si_addr, page = (uintptr_t)kernel_page();
    for (int s = 0; info->si_code == SEGV_ACCERR && s < TOUCH_SLOTS; s++) {
        struct touched *m = &touch_slots[s];
        if (!m->pages || at < m->start || at >= m->start + m->pages * page)
            continue;
        size_t p = (at - m->start) / page;
        if (!pending_page(m, p))
            break;
        clear_page(m, p);
        first_touch(m, p);
        real_mprotect((void *)(m->start + p * page), page, m->prot);
        errno = saved;
        return;  /* the access runs again, on a page that allows it */
    }
    errno = saved;
    pass_on(signum, info, context);
}

static void install_on_fault(void) {
    struct sigaction mine = {0}, old;
    mine.sa_sigaction = on_fault;
    mine.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&mine.sa_mask);
    if (!sigaction(SIGSEGV, &mine, &old) && old.sa_sigaction != on_fault)
        touch_previous = old;
}

/* Follow the new mapping at base: hide it, note what it maps. */
static void follow(void *base, size_t length, int prot, int flags, int fd, off_t offset) {
    REAL(mprotect);
    struct stat st;
    size_t pages = (length + (size_t)kernel_page() - 1) / (size_t)kernel_page();
    if (prot == PROT_NONE || pages > TOUCH_MAX_PAGES || fstat(fd, &st) || !S_ISREG(st.st_mode))
        return;
    struct touched *m = NULL;
    for (int s = 0; s < TOUCH_SLOTS && !m; s++)
        if (!touch_slots[s].pages)
            m = &touch_slots[s];
    if (!m)
        return;
    char path[PATH_MAX];
    if (fd_path(fd, path, sizeof path) < 0 || path[0] != '/')
        return;
    install_on_fault();
    if (real_mprotect(base, length, PROT_NONE))
        return;
    memcpy(m->path, path, sizeof path);
    m->start = (uintptr_t)base;
    m->prot = prot;
    m->flags = flags;
    m->offset = offset;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    memset(m->pending, 0, (pages + 7) / 8);
    for (size_t p = 0; p < pages; p++)
        m->pending[p / 8] |= (unsigned char)(1u << (p % 8));
    m->pages = pages;
}

/* Open the file a followed mapping maps, read-only, or return -1 when the
 * path no longer names it. */
static inline int open_mapped(const struct touched *m) {
    struct stat st;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, &st) || st.st_dev != m->dev || st.st_ino != m->ino)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    int probe = file_mapping(flags, fd) && probe_call();
    void *base = real(addr, length, prot, flags, fd, offset);
    if (base != MAP_FAILED && probe) {
        int saved = errno;
        settle((uintptr_t)base, length, 0);  /* pages a MAP_FIXED mapping replaced */
        follow(base, length, prot, flags, fd, offset);
        errno = saved;
    }
    return base;
}

INTERPOSE_MMAP

int mprotect(void *addr, size_t length, int prot) {
    REAL(mprotect);
    settle((uintptr_t)addr, length, 1);  /* should the call fail, they stay usable */
    return real_mprotect(addr, length, prot);
}

int munmap(void *addr, size_t length) {
    REAL(munmap);
    settle((uintptr_t)addr, length, 0);
    return real_munmap(addr, length);
}

void *mremap(void *old, size_t old_length, size_t new_length, int flags, ...) {
    REAL(mremap);
    va_list ap;
    va_start(ap, flags);
    void *new_address = va_arg(ap, void *);
    va_end(ap);
    settle((uintptr_t)old, old_length, 1);  /* moved pages keep their protection */
    return real_mremap(old, old_length, new_length, flags, new_address);
}

#endif
