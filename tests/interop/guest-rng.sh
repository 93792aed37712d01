#!/bin/sh
# Guest side of test_qemu_vhrng.sh: the virtio-rng device (vhost-user-rng-pci on examples/vh-rng)
# is the kernel's hardware RNG, and /dev/hwrng returns bytes that are not constant.
. /vh/lib.sh

cur=$(cat /sys/class/misc/hw_random/rng_current)
case "$cur" in virtio_rng*) ;; *) vh_die "rng_current is '$cur', not virtio_rng" ;; esac
vh_run dd if=/dev/hwrng of=/tmp/a bs=1024 count=8 status=none
vh_run dd if=/dev/hwrng of=/tmp/b bs=1024 count=8 status=none
[ "$(stat -c %s /tmp/a)" = 8192 ] || vh_die "short read from /dev/hwrng"
cmp -s /tmp/a /tmp/b && vh_die "two reads of /dev/hwrng are equal"
zeros=$(tr -dc '\000' </tmp/a | wc -c)
[ "$zeros" -lt 200 ] || vh_die "$zeros zero bytes in 8 KiB of /dev/hwrng"
vh_log "hwrng $cur: 2 x 8 KiB read, different, $zeros zero bytes"
