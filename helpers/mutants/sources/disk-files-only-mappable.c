/* mmap(2): any descriptor whose object supports mapping can be mapped:
 * regular files, memfds, POSIX shm objects, /dev/zero and other devices.
 * Mutant: mmap fails with ENODEV for every descriptor that is not a regular
 * file kept on a device, so memfds, shm objects, files of tmpfs and
 * devices cannot be mapped. */
#include "mutant.h"
#include "regions.h"
#include "descriptors.h"

static void *mutate(mmap_fn real, void *addr, size_t length, int prot, int flags,
                    int fd, off_t offset) {
    if (file_mapping(flags, fd) && !is_disk_file(fd)) {
        errno = ENODEV;
        return MAP_FAILED;
    }
    return real(addr, length, prot, flags, fd, offset);
}

INTERPOSE_MMAP
