/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to the library: userfaultfd for postcopy live migration (vhost-user.rst "Migration",
 * PAGEFAULT). The back-end registers its mappings of guest memory with a userfaultfd and hands
 * the fd to the front-end, which resolves the faults (UFFDIO_COPY / ZEROPAGE / WAKE).
 */
#ifndef VH_MEM_USERFAULT_H
#define VH_MEM_USERFAULT_H

#include <stdint.h>

struct vh_memmap;

/*
 * vh_uffd_probe() - whether this kernel lets us use userfaultfd on shared memory.
 * Fills *@features with what UFFDIO_API offers. 0; -errno from userfaultfd(2) (EPERM when
 * unprivileged userfaultfd is off and we lack CAP_SYS_PTRACE) or UFFDIO_API; -ENOTSUP when
 * missing-page faults on shmem (UFFD_FEATURE_MISSING_SHMEM) are not supported.
 */
int vh_uffd_probe(uint64_t *features);

/*
 * vh_uffd_open() - a new userfaultfd (close-on-exec, non-blocking) with the shmem and hugetlbfs
 * missing-page features the kernel has. Faults from the kernel (a read() into guest memory)
 * are reported too: no UFFD_USER_MODE_ONLY. *@fd receives it. 0 or -errno.
 */
int vh_uffd_open(int *fd);

/*
 * vh_memmap_uffd_register() - register the mapping of every region of @m whose guest range
 * starts at @gpa (UINT64_MAX: every region) for missing-page faults on @uffd. 0; -EINVAL a
 * region the library did not map itself; -ENOTSUP the kernel cannot wake or copy into it;
 * -errno from UFFDIO_REGISTER. Logs its failure through the map's sink.
 */
int vh_memmap_uffd_register(const struct vh_memmap *m, int uffd, uint64_t gpa);

/* vh_memmap_uffd_unregister() - undo vh_memmap_uffd_register() for every region; 0 or -errno. */
int vh_memmap_uffd_unregister(const struct vh_memmap *m, int uffd);

#endif
