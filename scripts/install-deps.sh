#!/usr/bin/env bash
# The one list of Debian packages libvhost needs to build and to run every test.
# Idempotent: installs only what is missing, and only as root; otherwise prints the command.
set -eu

PACKAGES=(
	# build
	build-essential meson ninja-build pkg-config clang clang-format libclang-rt-14-dev
	libcmocka-dev liburing-dev
	# interop peers: QEMU (TCG guests, qemu-storage-daemon), DPDK testpmd
	qemu-system-x86 qemu-system-common qemu-utils dpdk-dev
	# tests/interop/qmp.py (QMP client of the migration tests; meson needs it anyway)
	python3
	# man pages (scdoc sources), `make deb` (Debian packages and their lint)
	scdoc debhelper dpkg-dev lintian
	# guest images built by the tests
	busybox-static cpio kmod e2fsprogs
	# network namespaces and taps of the vh-net tests (ip, ss)
	iproute2
	# the guest kernel of tests/interop (/boot/vmlinuz-*, /lib/modules/*: vhost_net, vhost_vsock, tun)
	linux-image-amd64
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "libvhost: missing packages; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "libvhost: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
$cmd >/dev/null
