#!/usr/bin/env bash
# `meson install --destdir` into a scratch directory (a fresh container-like root), then what a
# user of the installed tree does: build a program out of tree with
# `pkg-config --cflags --libs libvhost` (PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR pointing into
# the destdir) and run it against the installed shared library; the daemons, vhctl, the
# discovery JSON, the units, man pages and docs are where a distribution expects them.
set -euo pipefail
. "$(dirname "$0")/../interop/lib.sh"
vh_init install
vh_need meson pkg-config readelf "${CC:-cc}"

DEST=$VH_TMP/root
prefix=$(meson introspect "$LIBVHOST_BUILD" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
libdir=$(meson introspect "$LIBVHOST_BUILD" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "libdir"][0])')
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac

timeout 240 meson install -C "$LIBVHOST_BUILD" --destdir "$DEST" --no-rebuild --quiet \
	>"$VH_TMP/install.log" 2>&1 || vh_fail "meson install failed: $(tail -5 "$VH_TMP/install.log")"

# The library: versioned soname, the symbol map's version node, no private symbols.
so=$DEST$libdir/libvhost.so
[ -L "$so" ] || vh_fail "no $so symlink"
soname=$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libvhost.so.0 ] || vh_fail "soname '$soname', want libvhost.so.0"
[ -e "$DEST$libdir/libvhost.so.0" ] || vh_fail "no libvhost.so.0"
# (grep on variables, not pipes: grep -q closing a pipe early fails it under pipefail)
syms=$(readelf --dyn-syms -W "$so")
grep -q ' vh_dev_create@@LIBVHOST_0.1$' <<<"$syms" ||
	vh_fail "vh_dev_create is not exported with version LIBVHOST_0.1"
other=$(awk '$5 == "GLOBAL" && $7 != "UND" {print $8}' <<<"$syms" | grep -v '^vh_\|^LIBVHOST_' || true)
[ -z "$other" ] || vh_fail "exported symbols outside vh_*: $other"
[ -e "$DEST$libdir/libvhost.a" ] || vh_fail "no static library"

# Headers, every one of include/vhost/ self-contained.
for h in "$LIBVHOST_SRC"/include/vhost/*.h; do
	[ -e "$DEST$prefix/include/vhost/${h##*/}" ] || vh_fail "header ${h##*/} not installed"
done

# The out-of-tree build, pkg-config pointing into the destdir only.
export PKG_CONFIG_PATH=$DEST$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST PKG_CONFIG_LIBDIR=
pkg-config --exists libvhost || vh_fail "pkg-config does not find libvhost.pc in $PKG_CONFIG_PATH"
flags=$(pkg-config --cflags --libs libvhost)
vh_log "pkg-config --cflags --libs libvhost: $flags"
case $flags in *"$DEST"*) ;; *) vh_fail "pkg-config flags do not point into the destdir" ;; esac
mkdir "$VH_TMP/oot"
cp "$(dirname "$0")/consumer.c" "$VH_TMP/oot/"
# shellcheck disable=SC2086
(cd "$VH_TMP/oot" && "${CC:-cc}" -std=gnu11 -Wall -Wextra -Werror -o consumer consumer.c $flags -pthread) ||
	vh_fail "out-of-tree build failed"
grep -q 'NEEDED.*libvhost.so.0' <<<"$(readelf -d "$VH_TMP/oot/consumer")" ||
	vh_fail "consumer is not linked against libvhost.so.0"
out=$(LD_LIBRARY_PATH=$DEST$libdir timeout 20 "$VH_TMP/oot/consumer" "$VH_TMP/c.sock") ||
	vh_fail "consumer failed: $out"
vh_log "consumer: $out"
# It ran on the installed library, not on the build tree's.
libs=$(LD_LIBRARY_PATH=$DEST$libdir LD_DEBUG=libs "$VH_TMP/oot/consumer" "$VH_TMP/c2.sock" 2>&1)
grep -q "calling init: $DEST$libdir/libvhost.so.0" <<<"$libs" ||
	vh_fail "consumer did not load the installed libvhost.so.0"

# Programs and the discovery JSON (its "binary" is the installed path).
for p in vh-blk vh-net vhctl; do
	[ -x "$DEST$prefix/bin/$p" ] || vh_fail "$p not installed in $prefix/bin"
done
caps=$(LD_LIBRARY_PATH=$DEST$libdir "$DEST$prefix/bin/vh-blk" --print-capabilities)
grep -q '"type": "block"' <<<"$caps" || vh_fail "installed vh-blk --print-capabilities: $caps"
for d in blk net; do
	j=$DEST$prefix/share/qemu/vhost-user/50-vh-$d.json
	[ -e "$j" ] || vh_fail "no $j"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["binary"] == sys.argv[2], d' \
		"$j" "$prefix/bin/vh-$d" || vh_fail "$j: binary is not $prefix/bin/vh-$d"
	for u in "vh-$d@.service" "vh-$d@.socket"; do
		[ -n "$(find "$DEST" -name "$u")" ] || vh_fail "unit $u not installed"
	done
done
grep -q "^ExecStart=$prefix/bin/vh-blk --fd 3" "$(find "$DEST" -name 'vh-blk@.service')" ||
	vh_fail "vh-blk@.service does not run the installed vh-blk"

# Man pages (roff, from the scdoc sources) and docs.
for m in man8/vh-blk.8 man8/vh-net.8 man8/vhctl.8 man3/libvhost.3 man3/vh_dev.3 man3/vh_server.3 \
	man3/vh_program.3 man3/vh_blk.3 man3/vh_net.3 man3/vh_vq.3; do
	f=$DEST$prefix/share/man/$m
	[ -s "$f" ] || vh_fail "man page $m not installed"
	grep -q '^\.TH' "$f" || vh_fail "$m is not roff"
done
grep -q 'vh_program_create' "$DEST$prefix/share/man/man3/vh_program.3" ||
	vh_fail "vh_program(3) does not document vh_program_create"
[ -s "$DEST$prefix/share/doc/libvhost/README.md" ] || vh_fail "docs not installed"
vh_log "PASS: $(find "$DEST" -type f | wc -l) files installed under $DEST$prefix"
