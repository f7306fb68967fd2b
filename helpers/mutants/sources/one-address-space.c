/* fork(2), execve(2): every process has an address space of its own; a
 * mapping made after a fork exists only in the process that made it, and
 * a process started afresh has none of another's mappings.
 * Mutant: the processes of the run share one region of memory at one
 * address, and a probe's shared anonymous mappings are carved out of it:
 * a mapping the parent makes after fork is in the child too, and a fresh
 * process finds it at the same address.  The region is a memory file with
 * no name anywhere; a process started afresh joins its parent's through
 * /proc/<ppid>/map_files (root only; others start a region of their own). */
#include "region.h"

#define POOL_ADDR ((uintptr_t)0x6e0000000000)
/* A sparse terabyte: every probe of a whole run takes its slices from it,
 * and only the pages stored into hold memory. */
#define POOL_SIZE ((size_t)1 << 40)
/* Larger mappings keep the real platform, so that a few cannot use it up. */
#define SLICE_MAX ((size_t)64 << 20)
#define POOL_NAME "mmapcheck-one-space"

/* The pool's first page holds how much of it is handed out, for all. */
static char *pool;

/* Return a descriptor of the parent's region, -1 when it has none. */
static int parent_region(void) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)getppid());
    FILE *maps = fopen(path, "re");
    if (!maps)
        return -1;
    int fd = -1;
    unsigned long start, end;
    while (fgets(line, sizeof line, maps)) {
        if (sscanf(line, "%lx-%lx", &start, &end) == 2 && start == POOL_ADDR &&
            strstr(line, POOL_NAME)) {
            snprintf(path, sizeof path, "/proc/%d/map_files/%lx-%lx", (int)getppid(), start,
                     end);
            fd = open(path, O_RDWR | O_CLOEXEC);
            break;
        }
    }
    fclose(maps);
    return fd;
}

__attribute__((constructor)) static void join_region(void) {
    REAL(mmap);
    int fd = parent_region();
    if (fd < 0) {
        fd = memfd_create(POOL_NAME, MFD_CLOEXEC);
        if (fd < 0)
            return;
        if (ftruncate(fd, (off_t)POOL_SIZE) != 0) {
            close(fd);
            return;
        }
    }
    void *got = real_mmap((void *)POOL_ADDR, POOL_SIZE, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    close(fd);
    if (got == (void *)POOL_ADDR)
        pool = got;
    else if (got != MAP_FAILED)
        munmap(got, POOL_SIZE);
}

static int in_pool(uintptr_t addr) {
    return pool && addr >= POOL_ADDR && addr < POOL_ADDR + POOL_SIZE;
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!pool || addr != NULL || length == 0 || length > SLICE_MAX ||
        map_type(flags) != MAP_SHARED ||
        (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_HUGETLB)) || !probe_anonymous(flags))
        return real(addr, length, prot, flags, fd, offset);
    size_t page = (size_t)kernel_page(), span = page_ceil(length);
    size_t at = __atomic_fetch_add((size_t *)pool, span, __ATOMIC_SEQ_CST);
    if (at + span > POOL_SIZE - page)
        return real(addr, length, prot, flags, fd, offset);
    char *slice = pool + page + at;
    if (prot != (PROT_READ | PROT_WRITE))
        mprotect(slice, span, prot);
    return slice;
}

INTERPOSE_MMAP

/* A probe's munmap of a slice gives its memory back (it reads zero after)
 * but leaves the region whole. */
int munmap(void *addr, size_t length) {
    REAL(munmap);
    ENTER();
    if (in_pool((uintptr_t)addr) && probe_call())
        return madvise(addr, length, MADV_REMOVE);
    return real_munmap(addr, length);
}
