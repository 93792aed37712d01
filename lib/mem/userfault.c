// SPDX-License-Identifier: BSD-3-Clause
/*
 * userfaultfd for postcopy live migration. The back-end's mappings of guest memory are
 * registered for missing-page faults; the front-end holds the same fd and fills the pages as
 * they arrive from the migration source. Guest memory is shared (memfd, shm, hugetlbfs), so
 * the kernel has to support missing-page faults on shmem (UFFD_FEATURE_MISSING_SHMEM, 4.11).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "mem/memmap.h"
#include "mem/userfault.h"
#include "util/util.h"

/* What a fault on guest memory needs: shmem always, hugetlbfs when the kernel has it. */
#define VH_UFFD_WANT (UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MISSING_HUGETLBFS)

static int uffd_api(uint64_t want, uint64_t *features, int *out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int err;

	if (fd < 0)
		return -errno;
	if (ioctl((int)fd, UFFDIO_API, &api) < 0) {
		err = -errno;
		close((int)fd);
		return err;
	}
	*features = api.features;
	if (out)
		*out = (int)fd;
	else
		close((int)fd);
	return 0;
}

int vh_uffd_probe(uint64_t *features)
{
	int err = uffd_api(0, features, NULL);

	if (err < 0)
		return err;
	return (*features & UFFD_FEATURE_MISSING_SHMEM) ? 0 : -ENOTSUP;
}

int vh_uffd_open(int *fd)
{
	uint64_t have;
	int err = vh_uffd_probe(&have);

	if (err < 0)
		return err;
	/* UFFDIO_API may run once per fd: ask a fresh one for exactly what is there. */
	return uffd_api(have & VH_UFFD_WANT, &have, fd);
}

static int register_slot(const struct vh_memmap *m, int uffd, const struct vh_memmap_slot *s)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)s->map_base, .len = s->map_len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	const uint64_t need = (1ull << _UFFDIO_WAKE) | (1ull << _UFFDIO_COPY);
	const char *what = "UFFDIO_REGISTER";
	int err;

	if (!s->map_base) {
		err = -EINVAL;
		what = "region not mapped by the library";
	} else if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		err = -errno;
	} else if ((reg.ioctls & need) != need) {
		err = -ENOTSUP;
		what = "kernel cannot copy into or wake this memory";
	} else {
		return 0;
	}
	vh_logf(&m->log, VH_LOG_ERR, "memmap", "userfault region 0x%" PRIx64 ": %s: %s", s->gpa,
		what, strerror(-err));
	return err;
}

int vh_memmap_uffd_register(const struct vh_memmap *m, int uffd, uint64_t gpa)
{
	int err;

	for (unsigned i = 0; i < m->n; i++) {
		if (gpa != UINT64_MAX && m->slots[i].gpa != gpa)
			continue;
		err = register_slot(m, uffd, &m->slots[i]);
		if (err < 0)
			return err;
	}
	return 0;
}

int vh_memmap_uffd_unregister(const struct vh_memmap *m, int uffd)
{
	int err = 0;

	for (unsigned i = 0; i < m->n; i++) {
		const struct vh_memmap_slot *s = &m->slots[i];
		struct uffdio_range r = { .start = (uintptr_t)s->map_base, .len = s->map_len };

		if (s->map_base && ioctl(uffd, UFFDIO_UNREGISTER, &r) < 0 && !err)
			err = -errno;
	}
	return err;
}
