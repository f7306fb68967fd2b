/* truncate(2): a file shorter than length is extended, the new part
 * reading as null bytes.
 * Mutant: truncate by path to a length larger than the file succeeds
 * without changing it (shrinking and ftruncate work as before).  Python's
 * os.truncate reaches the C library as truncate64. */
#include "mutant.h"

int truncate(const char *path, off_t length) {
    REAL(truncate);
    struct stat st;
    if (!stat(path, &st) && S_ISREG(st.st_mode) && length > st.st_size)
        return 0;
    return real_truncate(path, length);
}

int truncate64(const char *path, off_t length) {
    return truncate(path, length);
}
