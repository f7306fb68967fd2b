/* mmap(2): the mapping covers length bytes rounded up to whole pages;
 * access past it raises SIGSEGV.
 * Mutant: one page of zeroed memory follows every file mapping.  A mapping
 * the caller places (MAP_FIXED) takes the page after it when that page is
 * free or an inaccessible (PROT_NONE) reservation, never when something
 * usable is mapped there. */
#include "mutant.h"

#include <string.h>

/* Return whether the page at ``addr`` is free (1), PROT_NONE (2) or used (0). */
static int page_after(uintptr_t addr) {
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps)
        return 0;
    char line[512];
    int found = 1;
    while (fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3)
            continue;
        if (lo <= addr && addr < hi) {
            found = strncmp(perms, "---", 3) == 0 ? 2 : 0;
            break;
        }
    }
    fclose(maps);
    return found;
}

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (!file_mapping(flags, fd) || length == 0)
        return real(addr, length, prot, flags, fd, offset);
    long page = kernel_page();
    size_t span = (length + (size_t)page - 1) / (size_t)page * (size_t)page;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        char *base = real(addr, length, prot, flags, fd, offset);
        if (base == MAP_FAILED)
            return base;
        int after = page_after((uintptr_t)(base + span));
        if (after) {
            int saved = errno;
            real(base + span, (size_t)page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | (after == 2 ? MAP_FIXED : MAP_FIXED_NOREPLACE),
                 -1, 0);
            errno = saved;
        }
        return base;
    }
    char *base = real(addr, span + (size_t)page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return base;
    if (real(base, length, prot, flags | MAP_FIXED, fd, offset) == MAP_FAILED) {
        int saved = errno;
        munmap(base, span + (size_t)page);
        errno = saved;
        return MAP_FAILED;
    }
    return base;
}

INTERPOSE_MMAP
