/* sem_wait(3): decrements the semaphore, blocking while its value is zero,
 * so that sem_wait/sem_post pairs exclude each other.
 * Mutant: waiting on a process-shared semaphore (sem_init with pshared
 * nonzero) returns 0 at once without taking it.  Semaphores private to a
 * process, such as the interpreter's own locks, keep waiting as they
 * should. */
#include "mutant.h"

#include <pthread.h>
#include <semaphore.h>
#include <time.h>

static sem_t *shared[64];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int is_shared(sem_t *sem) {
    int found = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof shared / sizeof *shared; i++)
        if (shared[i] == sem)
            found = 1;
    pthread_mutex_unlock(&lock);
    return found;
}

int sem_init(sem_t *sem, int pshared, unsigned int value) {
    REAL(sem_init);
    int result = real_sem_init(sem, pshared, value);
    if (result == 0 && pshared && !is_shared(sem)) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < sizeof shared / sizeof *shared; i++)
            if (!shared[i]) {
                shared[i] = sem;
                break;
            }
        pthread_mutex_unlock(&lock);
    }
    return result;
}

int sem_destroy(sem_t *sem) {
    REAL(sem_destroy);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof shared / sizeof *shared; i++)
        if (shared[i] == sem)
            shared[i] = NULL;
    pthread_mutex_unlock(&lock);
    return real_sem_destroy(sem);
}

int sem_wait(sem_t *sem) {
    REAL(sem_wait);
    return is_shared(sem) ? 0 : real_sem_wait(sem);
}

int sem_timedwait(sem_t *sem, const struct timespec *deadline) {
    REAL(sem_timedwait);
    return is_shared(sem) ? 0 : real_sem_timedwait(sem, deadline);
}
