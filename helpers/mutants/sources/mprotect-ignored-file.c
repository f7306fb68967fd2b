/* mprotect(2): changes the access protections of the pages in the range;
 * an access the new protection forbids raises SIGSEGV.
 * Mutant: mprotect of a range inside a file mapping returns 0 and leaves
 * the pages' protection as it was. */
#include "filemaps.h"

TRACK_FILE_MAPPINGS

int mprotect(void *addr, size_t length, int prot) {
    REAL(mprotect);
    if (length && (uintptr_t)addr % (uintptr_t)kernel_page() == 0
        && filemaps_inside(addr, length))
        return 0;
    return real_mprotect(addr, length, prot);
}
