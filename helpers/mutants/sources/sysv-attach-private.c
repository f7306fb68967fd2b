/* shmat(2): attaches the System V segment itself, so every attachment of
 * it, in any process, uses the same memory.
 * Mutant: shmat returns a private copy of the segment (anonymous memory
 * filled with its contents); stores into it reach neither the segment nor
 * any other attachment. */
#include "mutant.h"

#include <pthread.h>
#include <string.h>
#include <sys/shm.h>

struct copy { void *base; size_t length; };
static struct copy copies[64];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void *shmat(int shmid, const void *addr, int flags) {
    REAL(shmat);
    REAL(shmdt);
    REAL(mmap);
    struct shmid_ds ds;
    if (addr || shmctl(shmid, IPC_STAT, &ds))
        return real_shmat(shmid, addr, flags);
    void *real = real_shmat(shmid, NULL, SHM_RDONLY);
    if (real == (void *)-1)
        return real;
    size_t length = ds.shm_segsz;
    int prot = flags & SHM_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE;
    char *copy = real_mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
    if (copy != MAP_FAILED) {
        memcpy(copy, real, length);
        mprotect(copy, length, prot);
    }
    real_shmdt(real);
    if (copy == MAP_FAILED)
        return (void *)-1;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof copies / sizeof *copies; i++)
        if (!copies[i].base) {
            copies[i] = (struct copy){copy, length};
            break;
        }
    pthread_mutex_unlock(&lock);
    return copy;
}

int shmdt(const void *addr) {
    REAL(shmdt);
    size_t length = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof copies / sizeof *copies; i++)
        if (copies[i].base == addr) {
            length = copies[i].length;
            copies[i].base = NULL;
        }
    pthread_mutex_unlock(&lock);
    if (length)
        return munmap((void *)addr, length);
    return real_shmdt(addr);
}
