/* munmap(2) EINVAL: "addr" must be a multiple of the page size.
 * Mutant: an unaligned address is accepted and rounded down to its page. */
#include "mutant.h"

int munmap(void *addr, size_t length) {
    REAL(munmap);
    uintptr_t shift = (uintptr_t)addr % (uintptr_t)kernel_page();
    return real_munmap((char *)addr - shift, length + shift);
}
