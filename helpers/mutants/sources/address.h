/* What the address and protection mutants share: which file mappings pass
 * an address hint or ask for MAP_FIXED, and the page an address falls in.
 *
 * Only file mappings are changed (mutant.h says why); among them only
 * those the probes ask for with an address, which nothing else in a
 * checking run does. */
#ifndef MMAPCHECK_ADDRESS_H
#define MMAPCHECK_ADDRESS_H

#include "mutant.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* A file mapping whose addr is a hint: non-NULL, without either MAP_FIXED. */
static inline int file_hint(void *addr, int flags, int fd) {
    return file_mapping(flags, fd) && addr && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE));
}

/* A file mapping that must land at addr exactly (MAP_FIXED). */
static inline int file_fixed(int flags, int fd) {
    return file_mapping(flags, fd) && (flags & MAP_FIXED);
}

/* The start of the page that holds addr. */
static inline void *page_floor(void *addr) {
    return (char *)addr - (uintptr_t)addr % (uintptr_t)kernel_page();
}

#endif
