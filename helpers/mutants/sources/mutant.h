/* What every platform mutant shares: the real functions behind the
 * interposed ones, the test "is this a file mapping", the test "is this a
 * call the checks made", the kernel's page size, and the marker symbol the
 * runner looks for to be sure the library was really preloaded.
 *
 * A mutant changes one documented behaviour, and must leave the
 * interpreter, the fork server and pytest unharmed.  Two rules keep it so:
 *
 * - File mappings may be changed for every caller: those programs map no
 *   files through the C library's exported mmap (the dynamic loader uses its
 *   own).
 * - Anonymous mappings may be changed only for probe calls (probe_call(),
 *   probe_anonymous()): calls whose immediate caller is code the checks
 *   drive.  That is libffi, from whose trampoline every ctypes call is made,
 *   _ctypes itself, and Python's mmap extension module (the pymmap layer).
 *   The interpreter's own allocator (obmalloc arenas, mapped from
 *   libpython or the executable) and glibc's malloc (which maps through an
 *   internal name no preloaded library sees) are never probe calls.  For
 *   the pymmap layer a probe call is any mmap.mmap(): nothing but the
 *   checks creates mmap objects in a checking run.  Where the mmap module
 *   is built into the interpreter (it then exports PyInit_mmap itself), its
 *   calls come from the interpreter's own object; the tell is then that
 *   the calling thread has released the GIL, which the mmap module does
 *   around mmap() and the allocator never does. */
#ifndef MMAPCHECK_MUTANT_H
#define MMAPCHECK_MUTANT_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

/* The return address of the interposed call being served.  Every
 * interposed function that asks probe_call() runs ENTER() first, in its
 * own body (INTERPOSE_MMAP does it for mmap and mmap64), so that the
 * address is that of its caller and not of a function of the mutant. */
static __thread void *mutant_caller;

#define ENTER() (mutant_caller = __builtin_return_address(0))

static inline const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static inline int starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Whether the interpreter has the mmap module built in, and the object
 * (executable or libpython) that holds it; looked up once. */
static inline const char *builtin_mmap_object(void) {
    static int looked;
    static const char *object;
    if (!looked) {
        Dl_info info;
        void *init = dlsym(RTLD_DEFAULT, "PyInit_mmap");
        if (init && dladdr(init, &info) && info.dli_fname)
            object = info.dli_fname;
        looked = 1;
    }
    return object;
}

/* True when the calling thread has released the GIL (the interpreter's
 * PyGILState_Check says no); false outside an interpreter. */
static inline int gil_released(void) {
    static int (*check)(void);
    static int looked;
    if (!looked) {
        check = (int (*)(void))dlsym(RTLD_DEFAULT, "PyGILState_Check");
        looked = 1;
    }
    return check && !check();
}

/* The object the interposed call being served was made from, or NULL. */
static inline const char *caller_object(void) {
    Dl_info info;
    if (!mutant_caller || !dladdr(mutant_caller, &info) || !info.dli_fname)
        return NULL;
    return info.dli_fname;
}

/* Whether the call comes from Python's mmap module (the pymmap layer). */
static inline int mmap_module_call(const char *object) {
    if (!object)
        return 0;
    if (starts(base_name(object), "mmap."))
        return 1;
    const char *builtin = builtin_mmap_object();
    return builtin && strcmp(builtin, object) == 0 && gil_released();
}

/* Whether the interposed call being served comes from code the checks
 * drive (see the header comment). */
static inline int probe_call(void) {
    const char *object = caller_object();
    if (!object)
        return 0;
    const char *name = base_name(object);
    return starts(name, "libffi.") || starts(name, "_ctypes.") || mmap_module_call(object);
}

/* An anonymous mapping asked for by a probe: the only kind a mutant of
 * anonymous memory may change. */
static inline int probe_anonymous(int flags) {
    return (flags & MAP_ANONYMOUS) && probe_call();
}

/* The kernel's page size, from the auxiliary vector: a mutant may lie
 * about sysconf, this never does. */
static inline long kernel_page(void) {
    return (long)getauxval(AT_PAGESZ);
}

/* The interposed mmap and its 64-bit-offset name (Python's mmap module
 * links to mmap64) both note their caller and run the mutant's mutate(),
 * defined above this. */
#define INTERPOSE_MMAP \
    static void *mutant_enter(void *addr, size_t length, int prot, int flags, int fd, \
                              off_t offset) { \
        REAL(mmap); \
        return mutate(real_mmap, addr, length, prot, flags, fd, offset); \
    } \
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) { \
        ENTER(); \
        return mutant_enter(addr, length, prot, flags, fd, offset); \
    } \
    void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset) { \
        ENTER(); \
        return mutant_enter(addr, length, prot, flags, fd, offset); \
    }

#endif
