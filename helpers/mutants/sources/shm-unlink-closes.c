/* shm_unlink(3): removes the name of an object; the object itself lives on
 * while descriptors or mappings refer to it, and they keep working.
 * Mutant: shm_unlink also closes every descriptor this process holds on
 * the object, as if unlinking "closed" it; mappings are left alone. */
#include "mutant.h"
#include "regions.h"

#include <dirent.h>
#include <stdlib.h>

static void close_descriptors_of(const char *name) {
    while (*name == '/')
        name++;
    char wanted[PATH_MAX], held[PATH_MAX];
    snprintf(wanted, sizeof wanted, "/dev/shm/%s", name);
    DIR *fds = opendir("/proc/self/fd");
    if (!fds)
        return;
    int own = dirfd(fds);
    struct dirent *entry;
    while ((entry = readdir(fds))) {
        int fd = atoi(entry->d_name);
        if (entry->d_name[0] != '.' && fd != own && fd_path(fd, held, sizeof held) >= 0
            && !strcmp(held, wanted))
            close(fd);
    }
    closedir(fds);
}

int shm_unlink(const char *name) {
    REAL(shm_unlink);
    int saved = errno;
    close_descriptors_of(name);
    errno = saved;
    return real_shm_unlink(name);
}
