# shellcheck shell=bash
# Build helpers for the static guest programs in guest-progs/ (sourced after lib.sh).
#
#   gp_build NAME   cc -static guest-progs/NAME.c against $LIBVHOST_BUILD/lib/libvhost.a
#                   -> $VH_TMP/NAME
#   gp_report NAME  print the program's probe/feature lines from the guest console

GP_DIR=$VH_INTEROP/guest-progs

gp_build()
{
	local name=$1 lib=$LIBVHOST_BUILD/lib/libvhost.a
	[ -r "$lib" ] || vh_fail "$lib not found: build libvhost first (ninja -C $LIBVHOST_BUILD)"
	vh_static_cc "$VH_TMP/$name" "$GP_DIR/$name.c" -I"$LIBVHOST_SRC/include" -I"$GP_DIR" \
		"$lib" -lpthread
}

gp_report()
{
	tr -d '\r' <"$VH_TMP/console.txt" | grep -E "^$1: (probe|vh_net|vh_dev|vsock|vdpa|stats|asid|range|round)" || true
}

# gp_kernel_variant [VARIANT]: the "# VARIANTS: system backports" convention of the kernel tests:
# "backports" boots Debian's 6.12 from bookworm-backports (downloaded into the cache by
# guest/kernel.sh the first time), "system" (or none) the kernel LIBVHOST_KERNEL names (6.1).
gp_kernel_variant()
{
	case "${1:-system}" in
	system) ;;
	backports) export LIBVHOST_KERNEL=backports ;;
	*) vh_fail "unknown variant '$1' (system, backports)" ;;
	esac
	gp_kernel_fetch
}

# gp_kernel_fetch: find the guest kernel now, under a lock: on a fresh machine several tests
# start together and the first download (guest/kernel.sh, ~20 s) must not run twice at once
# in the same cache. Exports what vh_guest_build would otherwise look up itself.
gp_kernel_fetch()
{
	local dir=${LIBVHOST_KERNEL_CACHE:-$VH_INTEROP/.cache/kernel} fd
	vh_need flock
	mkdir -p "$dir" || vh_fail "cannot create $dir"
	exec {fd}>"$dir/.fetch.lock"
	flock -w 240 "$fd" || vh_fail "waited 240 s for another test's kernel download"
	vh_kernel_find || vh_unavailable "no guest kernel (LIBVHOST_KERNEL=${LIBVHOST_KERNEL:-system})"
	exec {fd}>&-
	export VH_KERNEL_IMAGE VH_KERNEL_VERSION VH_KERNEL_ROOT
	vh_log "guest kernel $VH_KERNEL_VERSION"
}
