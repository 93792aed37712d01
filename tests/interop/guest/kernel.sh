# shellcheck shell=bash
# Find (or fetch) the guest kernel. Sourced by mkinitramfs.sh and lib.sh; needs bash.
#
# LIBVHOST_KERNEL chooses the kernel:
#   system (default)     the newest /boot/vmlinuz-<v> that has /lib/modules/<v>/kernel; Debian's
#                        linux-image-amd64 from scripts/install-deps.sh provides it (6.1 on
#                        bookworm).
#   apt:<suite>          fetch linux-image-amd64 from <suite> with `apt-get download` into the
#                        cache (LIBVHOST_KERNEL_CACHE, default tests/interop/.cache/kernel) and
#                        unpack it with dpkg-deb -x: no install hooks, nothing changes on the host.
#                        `backports` is short for apt:bookworm-backports (6.12: vhost_vdpa, vduse).
#   dir:<root>           <root>/boot/vmlinuz-<v> and <root>/lib/modules/<v>/ of an unpacked kernel.
# LIBVHOST_KERNEL_VERSION picks one version when several are present.
#
# vh_kernel_find sets VH_KERNEL_IMAGE, VH_KERNEL_VERSION and VH_KERNEL_ROOT (the directory holding
# lib/modules/<v>/ with a modules.dep). Returns non-zero with a message if there is no kernel.

VH_KERNEL_SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=apt.sh
. "$VH_KERNEL_SH_DIR/apt.sh"

# _vh_kernel_pick ROOT: newest version under ROOT with both an image and a module tree.
_vh_kernel_pick()
{
	local root=$1 img v want best=
	for img in "$root"/boot/vmlinuz-*; do
		[ -e "$img" ] || continue
		v=${img##*/vmlinuz-}
		[ -d "$root/lib/modules/$v/kernel" ] || continue
		want=${LIBVHOST_KERNEL_VERSION:-$v}
		[ "$v" = "$want" ] || continue
		best=$(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n 1)
	done
	[ -n "$best" ] || return 1
	VH_KERNEL_ROOT=$root
	VH_KERNEL_VERSION=$best
	VH_KERNEL_IMAGE=$root/boot/vmlinuz-$best
	if [ ! -r "$VH_KERNEL_IMAGE" ]; then
		echo "kernel: $VH_KERNEL_IMAGE is not readable by $(id -un)" >&2
		return 1
	fi
}

# _vh_kernel_apt SUITE: download and unpack linux-image-amd64 (and the image it depends on) from
# SUITE, using a private apt state under the cache so the host's apt configuration is untouched.
_vh_kernel_apt()
{
	local suite=$1 cache root
	cache=${LIBVHOST_KERNEL_CACHE:-$VH_KERNEL_SH_DIR/../.cache/kernel}/$suite
	root=$cache/root
	if [ ! -e "$cache/done" ]; then
		vh_apt_locked "$cache" _vh_kernel_fetch "$suite" "$cache" || return 1
	fi
	_vh_kernel_pick "$root"
}

# _vh_kernel_fetch SUITE CACHE: unpack the kernel into CACHE/root (under vh_apt_locked).
_vh_kernel_fetch()
{
	local suite=$1 cache=$2 root=$2/root dep
	[ -e "$cache/done" ] && return 0
	echo "kernel: fetching linux-image-amd64 from $suite into $cache" >&2
	vh_apt_init "$suite" "$cache" || return 1
	dep=$(apt-cache "${VH_APT_OPTS[@]}" show "linux-image-amd64/$suite" 2>/dev/null |
		sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
		sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
	if [ -z "$dep" ]; then
		echo "kernel: no linux-image-<version> dependency of linux-image-amd64 in $suite" >&2
		return 1
	fi
	rm -rf "$root"
	vh_apt_fetch "$cache" "$dep" || return 1
	_vh_kernel_pick "$root" || return 1
	# The package ships no modules.dep (its postinst runs depmod): make it in the unpacked tree.
	depmod -b "$root" "$VH_KERNEL_VERSION" || return 1
	touch "$cache/done"
}

vh_kernel_find()
{
	local spec=${LIBVHOST_KERNEL:-system}
	case "$spec" in
	system)
		if ! _vh_kernel_pick /; then
			echo "kernel: no /boot/vmlinuz-<v> with /lib/modules/<v>; install" \
			     "linux-image-amd64 (scripts/install-deps.sh)" \
			     "or set LIBVHOST_KERNEL" >&2
			return 1
		fi
		if [ ! -e "/lib/modules/$VH_KERNEL_VERSION/modules.dep" ]; then
			echo "kernel: no modules.dep in /lib/modules/$VH_KERNEL_VERSION" >&2
			return 1
		fi
		;;
	backports) LIBVHOST_KERNEL=apt:bookworm-backports vh_kernel_find ;;
	apt:*) _vh_kernel_apt "${spec#apt:}" ;;
	dir:*)
		if ! _vh_kernel_pick "${spec#dir:}"; then
			echo "kernel: no kernel in ${spec#dir:}" >&2
			return 1
		fi
		[ -e "$VH_KERNEL_ROOT/lib/modules/$VH_KERNEL_VERSION/modules.dep" ] ||
			depmod -b "$VH_KERNEL_ROOT" "$VH_KERNEL_VERSION"
		;;
	*)
		echo "kernel: unknown LIBVHOST_KERNEL=$spec" \
		     "(system, backports, apt:<suite>, dir:<root>)" >&2
		return 1
		;;
	esac
}
