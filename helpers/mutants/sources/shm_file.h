/* What the mutants that keep POSIX shm objects as plain files share: each
 * defines shm_file(name, path, size), which writes into path the file that
 * holds the object called name and returns path, or returns NULL for a name
 * the real call must judge; INTERPOSE_SHM_AS_FILE then makes shm_open and
 * shm_unlink open(2) and unlink(2) of that file. */
#ifndef MMAPCHECK_SHM_FILE_H
#define MMAPCHECK_SHM_FILE_H

#include "mutant.h"

#include <limits.h>
#include <string.h>

#define INTERPOSE_SHM_AS_FILE \
    int shm_open(const char *name, int oflag, mode_t mode) { \
        REAL(shm_open); \
        char path[PATH_MAX]; \
        if (!shm_file(name, path, sizeof path)) \
            return real_shm_open(name, oflag, mode); \
        return open(path, oflag | O_NOFOLLOW | O_CLOEXEC, mode); \
    } \
    int shm_unlink(const char *name) { \
        REAL(shm_unlink); \
        char path[PATH_MAX]; \
        if (!shm_file(name, path, sizeof path)) \
            return real_shm_unlink(name); \
        return unlink(path); \
    }

#endif
