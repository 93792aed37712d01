// SPDX-License-Identifier: BSD-3-Clause
/* tools/vhctl/devtype.c: the device type told from a vhost-user backend's feature bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include <vhost/proto.h>

#include "vhctl.h"

#define B(n) (1ull << (n))
/* What every modern vhost-user backend offers besides its device bits. */
#define GENERIC 0x774000000ull

static uint32_t guess(uint64_t features, uint64_t protocol)
{
	const char *why = NULL;
	uint32_t id = vhctl_guess_device(features, protocol, &why);

	assert_non_null(why);
	return id;
}

static void test_our_devices(void **state)
{
	(void)state;
	/* vh-net --loopback --queue-pairs 2 and vh-blk memory:64M, as vhctl probe saw them. */
	assert_int_equal(guess(0x0000000774418028ull, 0x1322b), VIRTIO_ID_NET);
	assert_int_equal(guess(0x0000000774007646ull, 0x1b22b), VIRTIO_ID_BLOCK);
	/* vh-blk --read-only: RO is bit 5, as net's MAC. */
	assert_int_equal(guess(0x0000000774007666ull, 0x1b22b), VIRTIO_ID_BLOCK);
	/* vh-net --no-mrg-rxbuf, one pair. */
	assert_int_equal(guess(GENERIC | B(VIRTIO_NET_F_MTU) | B(VIRTIO_NET_F_MAC) |
				   B(VIRTIO_NET_F_STATUS) | B(VIRTIO_NET_F_MQ),
			       0),
			 VIRTIO_ID_NET);
}

static void test_other_backends(void **state)
{
	(void)state;
	/* DPDK 22.11's vhost PMD (dpdk-testpmd --vdev net_vhost0), as vhctl probe saw it: HOST_ECN
	 * without HOST_TSO4/6, which virtio 1.2 §5.1.3.1 does not allow. */
	assert_int_equal(guess(0x0000000d7c66e7cbull, 0x1002b), VIRTIO_ID_NET);
	/* The offloads with the bits they require. */
	assert_int_equal(guess(GENERIC | B(VIRTIO_NET_F_CSUM) | B(VIRTIO_NET_F_GUEST_CSUM) |
				   B(VIRTIO_NET_F_GUEST_TSO4) | B(VIRTIO_NET_F_GUEST_TSO6) |
				   B(VIRTIO_NET_F_GUEST_ECN) | B(VIRTIO_NET_F_HOST_TSO4) |
				   B(VIRTIO_NET_F_HOST_TSO6) | B(VIRTIO_NET_F_HOST_ECN) |
				   B(VIRTIO_NET_F_MRG_RXBUF) | B(VIRTIO_NET_F_CTRL_VQ) |
				   B(VIRTIO_NET_F_CTRL_RX) | B(VIRTIO_NET_F_GUEST_ANNOUNCE) |
				   B(VIRTIO_NET_F_MQ),
			       0),
			 VIRTIO_ID_NET);
	/* qemu-storage-daemon 7.2's vhost-user-blk export: its feature bits as vhctl probe saw them. */
	assert_int_equal(guess(0x0000000175007e46ull, 0), VIRTIO_ID_BLOCK);
	/* A smaller blk set (FLUSH alone rules net out: GUEST_ECN needs GUEST_TSO4/6). */
	assert_int_equal(guess(GENERIC | B(VIRTIO_BLK_F_SEG_MAX) | B(VIRTIO_BLK_F_BLK_SIZE) |
				   B(VIRTIO_BLK_F_FLUSH) | B(VIRTIO_BLK_F_MQ) |
				   B(VIRTIO_BLK_F_DISCARD) | B(VIRTIO_BLK_F_WRITE_ZEROES),
			       0),
			 VIRTIO_ID_BLOCK);
	assert_int_equal(guess(GENERIC | B(VIRTIO_BLK_F_FLUSH), 0), VIRTIO_ID_BLOCK);
	/* A minimal net device: MAC and MRG_RXBUF also fit blk (RO, LIFETIME), but are typical. */
	assert_int_equal(guess(GENERIC | B(VIRTIO_NET_F_MAC) | B(VIRTIO_NET_F_MRG_RXBUF), 0),
			 VIRTIO_ID_NET);
	/* The net-only protocol features decide alone. */
	assert_int_equal(guess(GENERIC, B(VH_USER_PROTOCOL_F_RARP)), VIRTIO_ID_NET);
	assert_int_equal(guess(GENERIC, B(VH_USER_PROTOCOL_F_NET_MTU)), VIRTIO_ID_NET);
}

static void test_cannot_tell(void **state)
{
	const char *why = NULL;

	(void)state;
	/* virtiofsd, vhost-user-input, -gpio ...: no device bits at all. */
	assert_int_equal(vhctl_guess_device(GENERIC, 0x8003, &why), 0);
	assert_string_equal(why, "no device-specific feature bits are offered");
	/* vsock SEQPACKET (bit 1): net GUEST_CSUM and blk SIZE_MAX are as likely. */
	assert_int_equal(guess(GENERIC | B(1), 0), 0);
	/* scsi INOUT|HOTPLUG|CHANGE: net and blk score the same. */
	assert_int_equal(guess(GENERIC | B(0) | B(1) | B(2), 0), 0);
	/* Bits no type has together. */
	assert_int_equal(vhctl_guess_device(GENERIC | B(4) | B(23), 0, &why), 0);
	assert_string_equal(why, "the device-specific feature bits fit no known type");
	/* net offload without the checksum it requires, plus bit 3 (no blk bit). */
	assert_int_equal(guess(GENERIC | B(VIRTIO_NET_F_MTU) | B(VIRTIO_NET_F_HOST_TSO4), 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_our_devices),
		cmocka_unit_test(test_other_backends),
		cmocka_unit_test(test_cannot_tell),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
