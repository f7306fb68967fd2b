/* ld.so(8), mmap(2): the dynamic loader maps a shared library's file into
 * the process (MAP_PRIVATE of its segments), so /proc/self/maps names the
 * library's file for its code and data.
 * Mutant: the C library is loaded as a system that reads libraries into
 * memory instead of mapping them would load it: each of its segments is
 * anonymous memory holding the same bytes, with the same protection, at the
 * same address.  A constructor does it once in every process the library is
 * preloaded into, before any check runs; the code and data are unchanged,
 * so every program runs as before.
 *
 * Each segment is copied into fresh anonymous memory, which mremap then
 * moves over the segment in one step: the C library's code is never
 * missing, not even while mremap itself runs from it. */
#include "mutant.h"
#include "regions.h"

#define MAX_SEGMENTS 16

static int libc_path(const char *path) {
    const char *name = base_name(path);
    return starts(name, "libc.so") || (starts(name, "libc-") && strstr(name, ".so"));
}

struct segments {
    struct region *found;
    int most, n;
};

static int libc_segment(const char *line, void *ctx) {
    struct segments *s = ctx;
    if (!parse_region(line, &s->found[s->n]) && libc_path(s->found[s->n].path))
        s->n++;
    return s->n >= s->most;
}

/* Collect the C library's segments from /proc/self/maps; return how many. */
static int libc_segments(struct region *found, int most) {
    struct segments s = {found, most, 0};
    each_maps_line("/proc/self/maps", libc_segment, &s);
    return s.n;
}

static int protection(const char *perms) {
    return (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0)
        | (perms[2] == 'x' ? PROT_EXEC : 0);
}

/* Replace one segment by an anonymous copy of it. */
static void copy_in(const struct region *r) {
    size_t size = r->end - r->start;
    void *copy = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
    if (copy == MAP_FAILED)
        return;
    if (r->perms[0] == 'r')
        memcpy(copy, (void *)r->start, size);
    if (mprotect(copy, size, protection(r->perms))
            || mremap(copy, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)r->start)
               == MAP_FAILED)
        munmap(copy, size);
}

__attribute__((constructor)) static void load_by_copying(void) {
    struct region segments[MAX_SEGMENTS];
    int saved = errno;
    int n = libc_segments(segments, MAX_SEGMENTS);
    for (int i = 0; i < n; i++)
        copy_in(&segments[i]);
    errno = saved;
}
