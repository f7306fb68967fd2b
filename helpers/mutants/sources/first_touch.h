/* What the mutants that act on the first touch of a file mapping share, as
 * a system that serves a mapping's first fault itself would.
 *
 * A mapping of a regular file on a device that a probe makes through
 * Python's mmap module (mmap_module_call() in mutant.h) is made as asked,
 * so that mmap fails or succeeds exactly as before, and then hidden behind
 * PROT_NONE.  Its first load or store faults; a SIGSEGV handler runs the
 * mutant's first_touch() for the mapping and the address touched, gives
 * the whole mapping back the protection mmap was asked for (one mapping
 * again, as /proc/self/smaps shows it) and lets the access run again.  The
 * pages stay the kernel's own shared or private ones, so sharing,
 * coherence and write-back are untouched: only what happens at the first
 * touch changes.
 *
 * Only the mmap module's mappings: the hidden protection shows in
 * /proc/self/maps until the first touch, and the address-space model,
 * which maps through ctypes, compares those lines after every step; there
 * the mechanism, not the behaviour, would differ.  Left as the kernel made
 * them as well: mappings of files that live in memory (tmpfs, shm objects,
 * memfds: their pages are the file, as even a system without an MMU maps
 * them directly), mappings asked for at an address (a hint, MAP_FIXED or
 * MAP_FIXED_NOREPLACE: they stand for address-space layouts, not for file
 * access), and prefaulted ones (MAP_POPULATE, MAP_LOCKED), which have no
 * first touch.
 *
 * A fault the mutant does not own goes to the handler that was there
 * before, so a check that expects SIGSEGV gets it; with the default
 * disposition the fault recurs there and kills.  mmap, mprotect, munmap,
 * mremap, mlock and madvise settle a followed mapping whose pages they
 * name, before the real call: it gets back its asked-for protection and the
 * mutant forgets it, so a protection a check sets is the one the check then
 * meets, and pages a call makes resident are no first touch.  A first
 * touch the kernel makes on the process's behalf (write(2) from the
 * mapping, read(2) into it) raises no signal: it fails with EFAULT, so a
 * probe that hands an untouched mapping to a system call is not one these
 * mutants suit.
 *
 * Each mutant defines first_touch(const struct touched *m, uintptr_t at,
 * int store), which this header declares, after including it.  Needs
 * "mutant.h" and "descriptors.h" first. */
#ifndef MMAPCHECK_FIRST_TOUCH_H
#define MMAPCHECK_FIRST_TOUCH_H

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <ucontext.h>

/* Mappings followed at once; further ones are left as the kernel made them. */
#define TOUCH_SLOTS 32

/* One followed mapping, hidden until its first touch. */
struct touched {
    uintptr_t start;
    size_t length;                /* in whole pages; 0: a free slot */
    int prot, flags;
    off_t offset;                 /* of the file, at start */
    dev_t dev;
    ino_t ino;
    char path[PATH_MAX];          /* of the file when it was mapped */
};

static struct touched touch_slots[TOUCH_SLOTS];
static struct sigaction touch_previous;

/* store: 1 when the access that faulted was a store, 0 when a load, -1
 * where the processor's fault report does not say. */
static void first_touch(const struct touched *m, uintptr_t at, int store);

/* Whether the access behind a fault was a store: the page-fault error code
 * the kernel passes in the signal context says so on x86. */
static inline int fault_was_store(void *context) {
#if defined(__x86_64__) || defined(__i386__)
    return (((ucontext_t *)context)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
    (void)context;
    return -1;
#endif
}

/* Give every followed mapping that shares a page with [addr, addr+length)
 * its asked-for protection, and forget it. */
static void settle(uintptr_t addr, size_t length) {
    REAL(mprotect);
    for (int s = 0; s < TOUCH_SLOTS; s++) {
        struct touched *m = &touch_slots[s];
        if (m->length && addr < m->start + m->length && m->start < addr + length) {
            real_mprotect((void *)m->start, m->length, m->prot);
            m->length = 0;
        }
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
    uintptr_t at = (uintptr_t)info->si_addr;
    for (int s = 0; info->si_code == SEGV_ACCERR && s < TOUCH_SLOTS; s++) {
        struct touched *m = &touch_slots[s];
        if (!m->length || at < m->start || at >= m->start + m->length)
            continue;
        first_touch(m, at, fault_was_store(context));
        real_mprotect((void *)m->start, m->length, m->prot);
        m->length = 0;
        errno = saved;
        return;  /* the access runs again, on a mapping that allows it */
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

/* Whether the mapping about to be made is one the mutant follows. */
static int followed(void *addr, int prot, int flags, int fd) {
    return file_mapping(flags, fd) && !addr && prot != PROT_NONE
        && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE | MAP_LOCKED))
        && mmap_module_call(caller_object()) && is_disk_file(fd);
}

/* Hide the new mapping at base until its first touch. */
static void follow(void *base, size_t length, int prot, int flags, int fd, off_t offset) {
    REAL(mprotect);
    struct stat st;
    char path[PATH_MAX];
    struct touched *m = NULL;
    for (int s = 0; s < TOUCH_SLOTS && !m; s++)
        if (!touch_slots[s].length)
            m = &touch_slots[s];
    if (!m || fstat(fd, &st) || fd_path(fd, path, sizeof path) < 0 || path[0] != '/')
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
    m->length = (length + (size_t)kernel_page() - 1) / (size_t)kernel_page()
        * (size_t)kernel_page();  /* the protection covers whole pages */
}

/* Open the file a followed mapping maps, read-only, or return -1 when its
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
    int saved = errno;
    if (addr)
        settle((uintptr_t)addr, length);  /* a MAP_FIXED mapping may replace its pages */
    int follow_it = followed(addr, prot, flags, fd);
    errno = saved;
    void *base = real(addr, length, prot, flags, fd, offset);
    if (base != MAP_FAILED && follow_it) {
        saved = errno;
        follow(base, length, prot, flags, fd, offset);
        errno = saved;
    }
    return base;
}

INTERPOSE_MMAP

int mprotect(void *addr, size_t length, int prot) {
    REAL(mprotect);
    settle((uintptr_t)addr, length);
    return real_mprotect(addr, length, prot);
}

int munmap(void *addr, size_t length) {
    REAL(munmap);
    settle((uintptr_t)addr, length);
    return real_munmap(addr, length);
}

void *mremap(void *old, size_t old_length, size_t new_length, int flags, ...) {
    REAL(mremap);
    va_list ap;
    va_start(ap, flags);
    void *new_address = va_arg(ap, void *);
    va_end(ap);
    settle((uintptr_t)old, old_length);
    if (flags & MREMAP_FIXED)
        settle((uintptr_t)new_address, new_length);
    return real_mremap(old, old_length, new_length, flags, new_address);
}

int mlock(const void *addr, size_t length) {
    REAL(mlock);
    settle((uintptr_t)addr, length);
    return real_mlock(addr, length);
}

int mlock2(const void *addr, size_t length, unsigned int flags) {
    REAL(mlock2);
    settle((uintptr_t)addr, length);
    return real_mlock2(addr, length, flags);
}

int madvise(void *addr, size_t length, int advice) {
    REAL(madvise);
    settle((uintptr_t)addr, length);
    return real_madvise(addr, length, advice);
}

#endif
