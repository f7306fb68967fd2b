/* shm_overview(7): on Linux, POSIX shared memory objects are created in a
 * tmpfs file system mounted under /dev/shm.
 * Mutant: shm_open and shm_unlink keep the objects as files of /tmp (the
 * name's slash replaced by that directory), so nothing appears under
 * /dev/shm.  A name glibc would refuse is handed to the real calls, which
 * refuse it as before. */
#include "shm_file.h"

#define ELSEWHERE "/tmp"

/* Return the file that holds object name, or NULL for a name the real call must judge. */
static const char *shm_file(const char *name, char *path, size_t size) {
    size_t n = strlen(name);
    if (name[0] != '/' || n < 2 || n > NAME_MAX || strchr(name + 1, '/')
        || !strcmp(name, "/.") || !strcmp(name, "/.."))
        return NULL;
    snprintf(path, size, "%s%s", ELSEWHERE, name);
    return path;
}

INTERPOSE_SHM_AS_FILE
