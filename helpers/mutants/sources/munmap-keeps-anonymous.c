/* munmap(2): the pages of the range are removed; a later reference to
 * them faults (SIGSEGV).
 * Mutant: a probe's munmap of a range within one of its anonymous
 * mappings returns 0 and leaves every page mapped. */
#include "region.h"

/* The probe's anonymous mappings, most recent first when the table wraps. */
#define KEPT 512
static struct { uintptr_t start, end; } kept[KEPT];
static unsigned next_kept;

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    void *got = real(addr, length, prot, flags, fd, offset);
    if (got != MAP_FAILED && probe_anonymous(flags)) {
        unsigned slot = __atomic_fetch_add(&next_kept, 1, __ATOMIC_RELAXED) % KEPT;
        kept[slot].start = (uintptr_t)got;
        kept[slot].end = (uintptr_t)got + length;
    }
    return got;
}

INTERPOSE_MMAP

static int within_anonymous(uintptr_t start, size_t length) {
    for (unsigned i = 0; i < KEPT; i++)
        if (kept[i].start <= start && start + length <= kept[i].end)
            return 1;
    return 0;
}

int munmap(void *addr, size_t length) {
    REAL(munmap);
    ENTER();
    if (length != 0 && (uintptr_t)addr % (uintptr_t)kernel_page() == 0 &&
        within_anonymous((uintptr_t)addr, length) && probe_call())
        return 0;
    return real_munmap(addr, length);
}
