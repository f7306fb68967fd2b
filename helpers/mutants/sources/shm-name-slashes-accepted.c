/* shm_open(3): a name has no slash after its leading ones; glibc refuses
 * one that has with EINVAL.
 * Mutant: shm_open and shm_unlink take a name with inner slashes as a path
 * under /dev/shm, so "./test.shm.file" is /dev/shm/test.shm.file and
 * "/dir/name" needs a directory /dev/shm/dir.  A name with a ".." part
 * still goes to the real calls, which refuse it. */
#include "shm_file.h"

/* Return the path of name under /dev/shm when it has an inner slash, else NULL. */
static const char *shm_file(const char *name, char *path, size_t size) {
    while (*name == '/')
        name++;
    if (!strchr(name, '/') || strstr(name, ".."))
        return NULL;
    snprintf(path, size, "/dev/shm/%s", name);
    return path;
}

INTERPOSE_SHM_AS_FILE
