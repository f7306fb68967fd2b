/* strncpy(3): copies the source up to its terminating NUL and pads the
 * rest of the n bytes with NULs; nothing after the NUL is read.
 * Mutant: for calls made through ctypes (the checks' own calls; the
 * interpreter's calls keep the real function, since copying past the NUL
 * may read past the end of a short buffer), strncpy copies n bytes of the
 * source as memcpy would, the bytes after its NUL included. */
#include "mutant.h"

#include <string.h>

/* True when the caller's code lies in libffi, the library ctypes calls through. */
static int called_through_ctypes(void *caller) {
    Dl_info info;
    return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "libffi");
}

char *strncpy(char *dest, const char *src, size_t n) {
    REAL(strncpy);
    if (!called_through_ctypes(__builtin_return_address(0)))
        return real_strncpy(dest, src, n);
    return memcpy(dest, src, n);
}
