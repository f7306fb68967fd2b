/* What every platform mutant shares: the real functions behind the
 * interposed ones, the test "is this a file mapping", the kernel's page
 * size, and the marker symbol the runner looks for to be sure the library
 * was really preloaded.
 *
 * A mutant changes one documented behaviour of file mappings only: the
 * interpreter, the fork server and pytest map no files through the C
 * library's exported mmap (the dynamic loader uses its own), so they run
 * unharmed, and anonymous mappings are passed through untouched. */
#ifndef MMAPCHECK_MUTANT_H
#define MMAPCHECK_MUTANT_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef MUTANT_ID
#error "build with -DMUTANT_ID=\"name\""
#endif

/* The runner checks for this symbol in a preloaded interpreter. */
__attribute__((visibility("default"))) const char mmapcheck_mutant[] = MUTANT_ID;

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

/* real_NAME: the next definition of NAME (the C library's), looked up once. */
#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

static inline int file_mapping(int flags, int fd) {
    return fd >= 0 && !(flags & MAP_ANONYMOUS);
}

/* The kernel's page size, from the auxiliary vector: a mutant may lie
 * about sysconf, this never does. */
static inline long kernel_page(void) {
    return (long)getauxval(AT_PAGESZ);
}

/* The interposed mmap and its 64-bit-offset name (Python's mmap module
 * links to mmap64) both run the mutant's mutate(), defined above this. */
#define INTERPOSE_MMAP \
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) { \
        REAL(mmap); \
        return mutate(real_mmap, addr, length, prot, flags, fd, offset); \
    } \
    void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset) { \
        return mmap(addr, length, prot, flags, fd, offset); \
    }

#endif
