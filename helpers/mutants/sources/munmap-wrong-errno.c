/* munmap(2) EINVAL: "addr" is not a multiple of the page size.
 * Mutant (a control): the call still fails, but with EFAULT; documents
 * that only say "it fails" must keep their verdict. */
#include "mutant.h"

#include <stdint.h>

int munmap(void *addr, size_t length) {
    REAL(munmap);
    if ((uintptr_t)addr % (uintptr_t)kernel_page()) {
        errno = EFAULT;
        return -1;
    }
    return real_munmap(addr, length);
}
