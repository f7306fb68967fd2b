/* mq_overview(7), msgget(2): a message queue is found by its name or its
 * key, by any process that has the permissions.
 * Mutant: queues are private to a family of processes.  Every name and key
 * is qualified by the family, which a forked child inherits and a program
 * started afresh does not (it is the process that loaded this library), so
 * a process that is no descendant by fork finds no queue of another. */
#include "mutant.h"

#include <mqueue.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

static pid_t family;

__attribute__((constructor)) static void join_family(void) {
    family = getpid();
}

/* The family's own name of ``name``, in ``out`` (the name itself if it cannot). */
static const char *qualified(const char *name, char *out, size_t size) {
    if (!name || snprintf(out, size, "%s.family-%d", name, (int)family) >= (int)size)
        return name;
    return out;
}

mqd_t mq_open(const char *name, int oflag, ...) {
    REAL(mq_open);
    char own[300];
    const char *real_name = qualified(name, own, sizeof own);
    if (oflag & O_CREAT) {
        va_list args;
        va_start(args, oflag);
        mode_t mode = (mode_t)va_arg(args, unsigned int);
        struct mq_attr *attr = va_arg(args, struct mq_attr *);
        va_end(args);
        return real_mq_open(real_name, oflag, mode, attr);
    }
    return real_mq_open(real_name, oflag);
}

int mq_unlink(const char *name) {
    REAL(mq_unlink);
    char own[300];
    return real_mq_unlink(qualified(name, own, sizeof own));
}

int msgget(key_t key, int flags) {
    REAL(msgget);
    if (key == IPC_PRIVATE)
        return real_msgget(key, flags);
    key_t own = (key_t)((unsigned)key ^ ((unsigned)family * 2654435761u));
    return real_msgget(own == IPC_PRIVATE ? key : own, flags);
}
