/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost_probe: a static guest program for the interop harness (test_guest_vhost_modules.sh).
 * Opens the kernel vhost devices the way a vhost-kernel frontend does (SET_OWNER, GET_FEATURES)
 * and creates a tap with a vnet header on /dev/net/tun. Exit 0 when everything works; otherwise
 * prints the failing step and exits 1. It is also the example of a host-built static binary run
 * as the guest script.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what, const char *path, int err)
{
	fprintf(stderr, "vhost_probe: %s: %s: %s\n", path, what, strerror(err));
	return 1;
}

/* A vhost device must take an owner and offer VIRTIO_F_VERSION_1 (virtio 1.2 §6.1). */
static int probe_vhost(const char *path)
{
	uint64_t features = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return fail("open", path, errno);
	if (ioctl(fd, VHOST_SET_OWNER) < 0)
		rc = fail("VHOST_SET_OWNER", path, errno);
	else if (ioctl(fd, VHOST_GET_FEATURES, &features) < 0)
		rc = fail("VHOST_GET_FEATURES", path, errno);
	else if (!(features & (1ULL << VIRTIO_F_VERSION_1)))
		rc = fail("VIRTIO_F_VERSION_1 not offered", path, EPROTO);
	else
		printf("vhost_probe: %s: features 0x%016llx\n", path, (unsigned long long)features);
	close(fd);
	return rc;
}

/* The tap vhost-net will be attached to: IFF_VNET_HDR is what vhost-net needs. */
static int probe_tun(const char *path)
{
	struct ifreq ifr;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return fail("open", path, errno);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vhtap0");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		rc = fail("TUNSETIFF", path, errno);
	else
		printf("vhost_probe: %s: created %s\n", path, ifr.ifr_name);
	close(fd);
	return rc;
}

int main(void)
{
	int rc = 0;

	rc |= probe_vhost("/dev/vhost-net");
	rc |= probe_vhost("/dev/vhost-vsock");
	rc |= probe_tun("/dev/net/tun");
	return rc;
}
