/* Pieces the mutants of anonymous memory share: page arithmetic, the
 * mapping type, and filling a fresh mapping with a pattern.  Every one of
 * them changes probe calls only (probe_anonymous() in mutant.h). */
#ifndef MMAPCHECK_REGION_H
#define MMAPCHECK_REGION_H

#include "mutant.h"

/* The byte a mutant leaves where the kernel would have left zeros. */
#define GARBAGE 0xa5

/* MAP_SHARED, MAP_PRIVATE or MAP_SHARED_VALIDATE: the two low bits. */
static inline int map_type(int flags) {
    return flags & 0x3;
}

static inline uintptr_t page_floor(uintptr_t addr) {
    return addr - addr % (uintptr_t)kernel_page();
}

static inline uintptr_t page_ceil(uintptr_t addr) {
    return page_floor(addr + (uintptr_t)kernel_page() - 1);
}

/* A hint: an address without MAP_FIXED or MAP_FIXED_NOREPLACE. */
static inline int hint_only(void *addr, int flags) {
    return addr != NULL && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE));
}

/* Fill the new mapping at ``addr`` with GARBAGE, making it writable for
 * the moment when ``prot`` does not allow stores. */
static inline void scribble(void *addr, size_t length, int prot) {
    int writable = prot & PROT_WRITE;
    if (!writable && mprotect(addr, length, PROT_READ | PROT_WRITE) != 0)
        return;
    memset(addr, GARBAGE, length);
    if (!writable)
        mprotect(addr, length, prot);
}

#endif
