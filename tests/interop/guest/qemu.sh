# shellcheck shell=bash
# QEMU 10.0 from bookworm-backports, unpacked into a cache and run from there (nothing installed).
# Sourced by interop tests; needs bash.
#
#   vh_qemu_backports      fetch (the first time) and set LIBVHOST_QEMU to a wrapper script that
#                          runs the unpacked qemu-system-x86_64 with its own firmware (-L) and
#                          module directory; run-guest.sh and lib.sh use $LIBVHOST_QEMU.
#                          Also sets VH_QEMU_ROOT (the unpacked tree) and VH_QEMU_VERSION.
# LIBVHOST_QEMU_CACHE: the cache (default tests/interop/.cache/qemu).
# The packages' shared-library dependencies are bookworm's own and come with the system QEMU 7.2
# that scripts/install-deps.sh installs; a missing one is reported by name.

VH_QEMU_SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=apt.sh
. "$VH_QEMU_SH_DIR/apt.sh"

_vh_qemu_wrapper()
{
	local root=$1 wrapper=$2
	cat >"$wrapper.tmp" <<WRAP || return 1
#!/bin/sh
# QEMU from $root, with its own firmware and modules (made by tests/interop/guest/qemu.sh).
QEMU_MODULE_DIR="$root/usr/lib/x86_64-linux-gnu/qemu"
export QEMU_MODULE_DIR
exec "$root/usr/bin/qemu-system-x86_64" -L "$root/usr/share/qemu" -L "$root/usr/share/seabios" "\$@"
WRAP
	chmod +x "$wrapper.tmp" && mv "$wrapper.tmp" "$wrapper"
}

# _vh_qemu_fetch SUITE CACHE: unpack QEMU from SUITE into CACHE/root (under vh_apt_locked).
_vh_qemu_fetch()
{
	local suite=$1 cache=$2 root=$2/root missing
	[ -e "$cache/done" ] && return 0
	echo "qemu: fetching QEMU from $suite into $cache" >&2
	rm -rf "$root"
	vh_apt_init "$suite" "$cache" || return 1
	vh_apt_fetch "$cache" qemu-system-x86 qemu-system-common qemu-system-data seabios ||
		return 1
	missing=$(ldd "$root/usr/bin/qemu-system-x86_64" | sed -n 's/^\t*\([^ ]*\) => not found/\1/p')
	if [ -n "$missing" ]; then
		echo "qemu: unpacked QEMU needs libraries this host lacks:" $missing >&2
		return 1
	fi
	mkdir -p "$cache/bin" && _vh_qemu_wrapper "$root" "$cache/bin/qemu-system-x86_64" ||
		return 1
	touch "$cache/done"
}

vh_qemu_backports()
{
	local suite=bookworm-backports cache root
	cache=${LIBVHOST_QEMU_CACHE:-$VH_QEMU_SH_DIR/../.cache/qemu}/$suite
	root=$cache/root
	if [ ! -e "$cache/done" ]; then
		vh_apt_locked "$cache" _vh_qemu_fetch "$suite" "$cache" || return 1
	fi
	VH_QEMU_ROOT=$root
	LIBVHOST_QEMU=$cache/bin/qemu-system-x86_64
	VH_QEMU_VERSION=$("$LIBVHOST_QEMU" --version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p')
	export LIBVHOST_QEMU
	if [ -z "$VH_QEMU_VERSION" ]; then
		echo "qemu: $LIBVHOST_QEMU does not run" >&2
		return 1
	fi
}
