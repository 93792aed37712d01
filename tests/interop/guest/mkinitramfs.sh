#!/usr/bin/env bash
# Build a guest initramfs: busybox-static, kernel modules with their dependencies, the /init of
# init.sh, and whatever the caller adds (a guest script or static binary, files, host binaries).
#
#   mkinitramfs.sh --out FILE [--script FILE [--args "ARGS"]] [--load "MOD..."]
#                  [--modules "MOD..."] [--file SRC:DST]... [--bin PATH[:DST]]...
#                  [--env NAME=VALUE]... [--wait PATH]... [--guest-timeout SECS] [--cache DIR]
#
#   --script FILE     run as the guest's test (/vh/script): a `#!/bin/sh` script (it may source
#                     /vh/lib.sh, see guest-lib.sh) or a static binary. Exit 0 = PASS.
#   --args "ARGS"     arguments of the script (split on blanks).
#   --load "MODS"     modules /init loads before the script, dependencies and softdeps included.
#   --modules "MODS"  extra modules to put in the image without loading them (modprobe works in
#                     the guest: depmod has run on the image).
#   --file SRC:DST    copy a host file to DST in the guest.
#   --bin PATH[:DST]  copy a host program (default DST /usr/bin/<name>) and, if it is dynamically
#                     linked, the shared libraries and loader it needs.
#   --env NAME=VALUE  exported to the script (written to /vh/env).
#   --wait PATH       /init waits (10 s max) for PATH, e.g. /dev/vda, before running the script.
#   --guest-timeout N the script is killed after N s (default 120) and the guest reports FAIL.
#
# The kernel is the one kernel.sh finds (LIBVHOST_KERNEL), or VH_KERNEL_ROOT/VH_KERNEL_VERSION from
# the environment. The part that is the same for every test (busybox, modules, /init) is built once
# per content hash into the cache (default $LIBVHOST_BUILD/interop-cache) and the per-test part is
# appended as a second cpio archive, which the kernel unpacks on top of the first.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=kernel.sh
. "$here/kernel.sh"

# Modules every interop test may want; the ones this kernel does not have are left out silently.
# (6.1 has no vDPA; the 6.12 backports kernel has vdpa, vduse, vhost_vdpa and virtio_vdpa.)
VH_DEFAULT_MODULES="virtio_pci virtio_blk virtio_net virtio_scsi virtio_console ext4 tun vsock
vmw_vsock_virtio_transport vhost_net vhost_vsock vhost_scsi vdpa vduse vhost_vdpa virtio_vdpa
vdpa_sim vdpa_sim_net vdpa_sim_blk"

die()
{
	echo "mkinitramfs: $*" >&2
	exit 1
}

out='' script='' args='' load='' modules='' guest_timeout=120 cache=''
files=() bins=() envs=() waits=()
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2 ;;
	--script) script=$2 ;;
	--args) args=$2 ;;
	--load) load="$load $2" ;;
	--modules) modules="$modules $2" ;;
	--file) files+=("$2") ;;
	--bin) bins+=("$2") ;;
	--env) envs+=("$2") ;;
	--wait) waits+=("$2") ;;
	--guest-timeout) guest_timeout=$2 ;;
	--cache) cache=$2 ;;
	*) die "unknown option $1" ;;
	esac
	shift 2 || die "option $1 needs a value"
done
[ -n "$out" ] || die "--out is required"
[ -z "$script" ] || [ -r "$script" ] || die "cannot read script $script"
for p in cpio depmod modprobe busybox sha256sum; do
	command -v "$p" >/dev/null || die "$p not found (scripts/install-deps.sh)"
done
# busybox must be the static one: it runs inside the guest with no libraries.
bb=$(command -v busybox)
if ldd "$bb" >/dev/null 2>&1; then
	die "$bb is dynamically linked; install busybox-static"
fi

if [ -z "${VH_KERNEL_VERSION:-}" ] || [ -z "${VH_KERNEL_ROOT:-}" ]; then
	vh_kernel_find || exit 1
fi
kver=$VH_KERNEL_VERSION
kroot=$VH_KERNEL_ROOT
cache=${cache:-${LIBVHOST_BUILD:-${TMPDIR:-/tmp}/libvhost-interop-$(id -u)}/interop-cache}
mkdir -p "$cache"

work=$(mktemp -d "$cache/mkinitramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT

# modpaths ROOT MODS...: the .ko files (relative to lib/modules/<v>) that loading MODS inserts,
# in insmod order, softdeps included. Fails naming the first module the kernel does not have.
modpaths()
{
	local root=$1 m line
	shift
	for m in "$@"; do
		modprobe -d "$root" -S "$kver" --show-depends "$m" >"$work/dep" 2>"$work/dep.err" ||
			{ cat "$work/dep.err" >&2; echo "module $m" >&2; return 1; }
		while read -r line; do
			case "$line" in
			insmod\ *) line=${line#insmod }; line=${line%% *}
				   echo "${line#"$root"/lib/modules/"$kver"/}" ;;
			esac
		done <"$work/dep"
	done
}

for m in $modules $load; do
	modprobe -d "$kroot" -S "$kver" --show-depends "$m" >/dev/null 2>&1 ||
		die "kernel $kver has no module $m"
done

# ---- base image: cached by content ----
wanted=$(for m in $VH_DEFAULT_MODULES $modules $load; do echo "$m"; done | sort -u | tr '\n' ' ')
key=$( {
	echo "$kver $kroot $wanted"
	stat -c '%s %Y' "$kroot/boot/vmlinuz-$kver" "$kroot/lib/modules/$kver/modules.dep"
	sha256sum "$here/init.sh" "$here/guest-lib.sh" "$here/mkinitramfs.sh" "$bb"
} | sha256sum | cut -c1-16)
base=$cache/base-$kver-$key.cpio

build_base()
{
	local r=$work/base m p
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt,etc,root,vh}
	cp "$bb" "$r/bin/busybox"
	while read -r p; do
		[ "$p" = bin/busybox ] || [ -e "$r/$p" ] || ln -s /bin/busybox "$r/$p"
	done < <("$bb" --list-full)
	install -m 0755 "$here/init.sh" "$r/init"
	install -m 0644 "$here/guest-lib.sh" "$r/vh/lib.sh"
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"

	for m in $wanted; do
		# Default modules this kernel lacks are skipped; the caller's are checked below.
		modpaths "$kroot" "$m" >>"$work/base.list" 2>/dev/null || true
	done
	local md=$r/lib/modules/$kver
	mkdir -p "$md"
	# Compressed modules (6.12: .ko.xz) are unpacked here: busybox insmod would first hand the
	# compressed file to finit_module, which this kernel rejects noisily before falling back.
	sort -u "$work/base.list" | while read -r p; do
		mkdir -p "$md/$(dirname "$p")"
		case "$p" in
		*.ko.xz) "$bb" xzcat "$kroot/lib/modules/$kver/$p" >"$md/${p%.xz}" ;;
		*.ko.gz) "$bb" zcat "$kroot/lib/modules/$kver/$p" >"$md/${p%.gz}" ;;
		*.ko.zst) zstd -qdc "$kroot/lib/modules/$kver/$p" >"$md/${p%.zst}" ;;
		*) cp "$kroot/lib/modules/$kver/$p" "$md/$p" ;;
		esac
	done
	for p in modules.order modules.builtin modules.builtin.modinfo; do
		if [ -e "$kroot/lib/modules/$kver/$p" ]; then
			cp "$kroot/lib/modules/$kver/$p" "$md/"
		fi
	done
	depmod -b "$r" "$kver"
	(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
		>"$work/base.cpio"
	mv "$work/base.cpio" "$base.tmp.$$"
	mv "$base.tmp.$$" "$base"
}
if [ -e "$base" ]; then
	touch "$base"
else
	# Bases of older script versions or other module sets: drop the ones unused for a day.
	find "$cache" -maxdepth 1 -name 'base-*.cpio' -mmin +1440 -delete 2>/dev/null || true
	build_base
fi

# ---- per-test overlay ----
o=$work/overlay
mkdir -p "$o/vh"
if [ -n "$script" ]; then
	install -m 0755 "$script" "$o/vh/script"
fi
if [ -n "${load// /}" ]; then
	# Resolve against the kernel tree (same files as the base) so the order includes softdeps.
	# shellcheck disable=SC2086 # a list of module names
	modpaths "$kroot" $load | awk '!seen[$0]++' |
		sed "s|^|/lib/modules/$kver/|; s/\.ko\.\(xz\|gz\|zst\)\$/.ko/" \
		>"$o/vh/modules.load" ||
		die "cannot resolve modules: $load"
fi
{
	echo "VH_GUEST_TIMEOUT=$guest_timeout"
	printf 'VH_WAIT_PATHS=%q\n' "${waits[*]}"
	printf 'VH_SCRIPT_ARGS=%q\n' "$args"
	for e in "${envs[@]}"; do
		printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
	done
} >"$o/vh/env"

for f in "${files[@]}"; do
	src=${f%%:*} dst=${f#*:}
	[ -r "$src" ] || die "cannot read $src"
	mkdir -p "$o/$(dirname "$dst")"
	cp -L "$src" "$o/$dst"
done

# copy_bin PATH DST: the program and, when it is dynamic, its loader and libraries at their paths.
copy_bin()
{
	local src=$1 dst=$2 lib
	[ -x "$src" ] || die "cannot execute $src"
	mkdir -p "$o/$(dirname "$dst")"
	cp -L "$src" "$o/$dst"
	chmod 0755 "$o/$dst"
	if ldd "$src" >"$work/ldd" 2>/dev/null; then
		for lib in $(sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p' "$work/ldd") \
			$(sed -n 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' "$work/ldd"); do
			mkdir -p "$o/$(dirname "$lib")"
			[ -e "$o/$lib" ] || cp -L "$lib" "$o/$lib"
		done
	fi
}
for b in "${bins[@]}"; do
	src=${b%%:*}
	dst=/usr/bin/$(basename "$src")
	[ "$b" = "$src" ] || dst=${b#*:}
	case "$src" in
	*/*) ;;
	*) src=$(command -v "$src") || die "program $b not found" ;;
	esac
	copy_bin "$src" "$dst"
done
(cd "$o" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
	>"$work/overlay.cpio"
cat "$base" "$work/overlay.cpio" >"$out.tmp.$$"
mv "$out.tmp.$$" "$out"
