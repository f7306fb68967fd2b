/* msync(2): returns 0 on success; ENOMEM only when the range is not (wholly)
 * mapped.
 * Mutant: msync of a range inside a file mapping, after doing its work,
 * fails with ENOMEM, as if part of the range were not mapped. */
#include "filemaps.h"

TRACK_FILE_MAPPINGS

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    int result = real_msync(addr, length, flags);
    if (!result && length && filemaps_inside(addr, length)) {
        errno = ENOMEM;
        return -1;
    }
    return result;
}
