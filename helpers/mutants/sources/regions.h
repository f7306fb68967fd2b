/* Which mapping holds an address, as /proc/self/maps tells it, and which
 * file a descriptor names, as /proc/self/fd tells it.
 *
 * Only raw system calls (open, read, readlink) are used, never stdio or
 * malloc, so that a mutant may ask from inside a signal handler or from an
 * interposed call the C library itself makes.  Needs "mutant.h" first. */
#ifndef MMAPCHECK_REGIONS_H
#define MMAPCHECK_REGIONS_H

#include <limits.h>
#include <string.h>

/* One line of /proc/self/maps. */
struct region {
    uintptr_t start, end;
    unsigned long long offset;  /* of the file, at start */
    char perms[5];              /* "rw-s" */
    char path[PATH_MAX];        /* "" for anonymous memory */
};

static inline uintptr_t parse_hex(const char **p) {
    uintptr_t value = 0;
    for (;; (*p)++) {
        char c = **p;
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0)
            return value;
        value = value * 16 + (uintptr_t)digit;
    }
}

/* Fill *r from one line of the maps file; return 0, or -1 when it is malformed. */
static inline int parse_region(const char *line, struct region *r) {
    const char *p = line;
    r->start = parse_hex(&p);
    if (*p++ != '-')
        return -1;
    r->end = parse_hex(&p);
    if (*p++ != ' ' || strlen(p) < 5)
        return -1;
    memcpy(r->perms, p, 4);
    r->perms[4] = '\0';
    p += 5;
    r->offset = parse_hex(&p);
    for (int field = 0; field < 2 && *p; field++) {  /* device, inode */
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    while (*p == ' ')
        p++;
    size_t n = strlen(p);
    if (n >= sizeof r->path)
        n = sizeof r->path - 1;
    memcpy(r->path, p, n);
    r->path[n] = '\0';
    return 0;
}

/* Call visit(line, ctx) for each line of the maps file at path, until it
 * returns non-zero; return that value, or 0 (also when the file cannot be
 * read).  Lines longer than the buffer are cut; errno is kept. */
static inline int each_maps_line(const char *path, int (*visit)(const char *, void *),
                                 void *ctx) {
    int saved = errno;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errno = saved;
        return 0;
    }
    char buf[8192], line[PATH_MAX + 128];
    size_t used = 0;
    int stop = 0;
    ssize_t got;
    while (!stop && (got = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got && !stop; i++) {
            if (buf[i] != '\n') {
                if (used < sizeof line - 1)
                    line[used++] = buf[i];
                continue;
            }
            line[used] = '\0';
            used = 0;
            stop = visit(line, ctx);
        }
    }
    close(fd);
    errno = saved;
    return stop;
}

struct region_wanted {
    uintptr_t addr;
    struct region *r;
};

static inline int holds_addr(const char *line, void *ctx) {
    struct region_wanted *w = ctx;
    return !parse_region(line, w->r) && w->r->start <= w->addr && w->addr < w->r->end;
}

/* Find the mapping that holds addr; return 0 with *r filled, or -1. */
static inline int region_of(uintptr_t addr, struct region *r) {
    struct region_wanted wanted = {addr, r};
    return each_maps_line("/proc/self/maps", holds_addr, &wanted) ? 0 : -1;
}

/* Copy the path /proc/self/fd/<fd> links to into buf; return its length, or -1. */
static inline ssize_t fd_path(int fd, char *buf, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int saved = errno;
    ssize_t n = readlink(link, buf, size - 1);
    errno = saved;
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static inline int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#endif
