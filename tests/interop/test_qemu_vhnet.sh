#!/usr/bin/env bash
# QEMU's virtio-net-pci (-netdev vhost-user) against libvhost's vh-net daemon (devices/vh-net)
# with a tap inside a private network namespace; a Linux guest on the other side.
#   Host: network namespace vhnet<pid> with tap vhtap0 = 10.99.0.1/24 (no other interface but
#   lo: nothing here can reach any other network), vh-net --tap vhtap0 in it, and an HTTP
#   peer (python3) on 10.99.0.1:8000 that serves a 1 MiB random (base64) blob and takes an upload.
#   Guest: eth0 = 10.99.0.2/24; ping -c 5 (all answered), ping -s 3000 (IP fragments), wget
#   the blob (RX bulk) and POST it back (TX bulk): md5 checked in the guest (download, and the
#   peer's md5 of the upload) and on the host (the uploaded file byte for byte).
#   mrg      vh-net defaults: VIRTIO_NET_F_MRG_RXBUF negotiated
#   nomrg    --no-mrg-rxbuf: one receive buffer per frame
#   packed   packed=on on the device: VIRTIO_F_RING_PACKED negotiated
#   mq2      2 queue pairs (multi-queue tap, --queue-pairs 2, queues=2 / mq=on, 2 vCPUs; QEMU
#            runs the control queue): the guest has 2 queue pairs, pings from each vCPU, and
#            vh-net reports frames on both pairs; QEMU sends the RAM once per pair with
#            ADD_MEM_REG (CONFIGURE_MEM_SLOTS) and the repeated region is accepted
#   reconnect  after the first transfer vh-net is killed (SIGKILL) and a new one started on the
#            same socket and tap; QEMU reconnects (reconnect=1) and the guest repeats the
#            transfer through the new one. QEMU 7.2 (Debian 7.2.22) answers the failed
#            GET_VRING_BASE with used->idx from guest memory, so the new back-end's
#            SET_VRING_BASE agrees with the rings; had it been stale, backend/ would resync to
#            used->idx at ring start and log it (tests/loopback/test_backend_resync.c). The guest
#            polls with `timeout 5 wget`: busybox 1.35's `wget -T` segfaults (that, not the rings,
#            was why this variant used to fail).
#   qemu10   QEMU 10.0 from bookworm-backports (guest/qemu.sh), MSI-X on (no vectors=0),
#            checksum and segmentation offloads on (csum, guest_csum, host/guest_tso4/6; the guest
#            must negotiate them): after the pings, an iperf-style TCP transfer both ways between
#            the guest and the host (guest-progs/net_xfer.c on both ends: every byte checked
#            against the sender's pseudo-random stream, SHA-256 of each direction compared by
#            both ends and by this script), and vh-net must have carried GSO frames both ways.
#   poll     vh-net --poll: a worker thread busy-polls the rings and reads the tap queue itself
#            (no kick eventfds, no tap in the event loop)
# VARIANTS: mrg nomrg packed mq2 reconnect qemu10 poll
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANTS="mrg nomrg packed mq2 reconnect qemu10 poll"
XFER_PORT=5201
XFER_MIB=16
NS=vhnet$$
TAP=vhtap0
HOST_IP=10.99.0.1
GUEST_IP=10.99.0.2
GUEST_MAC=52:54:00:12:34:56
NS_MADE=0

vhnet_cleanup()
{
	local rc=$1 pid
	# The namespace goes after the processes in it (vh-net, the HTTP peer) are gone.
	for pid in "${VH_PIDS[@]}"; do
		vh_kill "$pid"
	done
	if [ "$NS_MADE" = 1 ]; then
		ip netns del "$NS" 2>/dev/null || echo "[$VH_NAME] cannot delete netns $NS" >&2
	fi
	_vh_cleanup "$rc"
}

# vhnet_netns PAIRS: a fresh namespace with the tap (multi_queue for more than one queue pair:
# vh-net then attaches one tap queue per pair with IFF_MULTI_QUEUE, which must match).
vhnet_netns()
{
	local mq=()
	[ "$1" -gt 1 ] && mq=(multi_queue)
	ip netns add "$NS" || vh_unavailable "cannot create a network namespace (needs root)"
	NS_MADE=1
	ip -n "$NS" link set lo up
	ip -n "$NS" tuntap add dev "$TAP" mode tap "${mq[@]}"
	ip -n "$NS" addr add "$HOST_IP/24" dev "$TAP"
	ip -n "$NS" link set "$TAP" up
}

vhnet_peer_script()
{
	cat >"$VH_TMP/peer.py" <<'PY'
import hashlib, http.server, os, sys

blob = open(sys.argv[2], "rb").read()


class Peer(http.server.BaseHTTPRequestHandler):
    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/blob":
            self.reply(blob)
        elif self.path == "/phase2" and os.path.exists(sys.argv[4]):
            self.reply(b"go\n")
        else:
            self.send_error(404)

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(sys.argv[3], "wb") as f:
            f.write(data)
        self.reply(hashlib.md5(data).hexdigest().encode() + b"\n")

    def log_message(self, fmt, *args):
        sys.stderr.write("peer: " + (fmt % args) + "\n")
        sys.stderr.flush()


http.server.HTTPServer((sys.argv[1], 8000), Peer).serve_forever()
PY
}

vhnet_guest_script()
{
	cat >"$VH_TMP/guest.sh" <<'SH'
#!/bin/sh
# Guest side of test_qemu_vhnet.sh (busybox). /vh/env: VH_HOST_IP VH_GUEST_IP VH_MAC VH_BLOB_MD5
# VH_EXPECT_MRG VH_EXPECT_PACKED VH_EXPECT_PAIRS VH_RECONNECT; qemu10: VH_XFER_MIB VH_XFER_PORT.
. /vh/lib.sh
dev=eth0
vh_wait_path /sys/class/net/$dev
f=$(cat /sys/class/net/$dev/device/features)
vh_log "$dev: features $f"
mrg=$(echo "$f" | cut -c 16)
packed=$(echo "$f" | cut -c 35)
[ "$mrg" = "$VH_EXPECT_MRG" ] || vh_die "VIRTIO_NET_F_MRG_RXBUF is $mrg, expected $VH_EXPECT_MRG"
[ "$packed" = "$VH_EXPECT_PACKED" ] ||
	vh_die "VIRTIO_F_RING_PACKED is $packed, expected $VH_EXPECT_PACKED"
n=$(ls /sys/class/net/$dev/queues | grep -c rx-)
[ "$n" = "$VH_EXPECT_PAIRS" ] || vh_die "$dev has $n receive queues, expected $VH_EXPECT_PAIRS"
mac=$(cat /sys/class/net/$dev/address)
[ "$mac" = "$VH_MAC" ] || vh_die "$dev has MAC $mac, expected $VH_MAC"
vh_run ip addr add "$VH_GUEST_IP/24" dev $dev
vh_run ip link set $dev up

# transfer: pings (from every vCPU too: the driver picks the transmit queue by CPU, so each
# pair carries some), the blob down and up, md5 checked.
transfer()
{
	ping -c 5 -W 5 "$VH_HOST_IP" >/tmp/ping.txt 2>&1 || true
	cat /tmp/ping.txt
	grep -q "5 packets transmitted, 5 packets received" /tmp/ping.txt ||
		vh_die "ping $VH_HOST_IP: not all 5 answered"
	ping -c 3 -s 3000 -W 5 "$VH_HOST_IP" >/tmp/ping.txt 2>&1 || true
	cat /tmp/ping.txt
	grep -q "3 packets transmitted, 3 packets received" /tmp/ping.txt ||
		vh_die "ping -s 3000 $VH_HOST_IP (IP fragments): not all 3 answered"
	cpu=0
	while [ $cpu -lt "$(nproc)" ]; do
		taskset -c $cpu ping -c 3 -W 5 "$VH_HOST_IP" >/tmp/ping.txt 2>&1 || true
		grep -q "3 packets transmitted, 3 packets received" /tmp/ping.txt ||
			vh_die "ping from cpu $cpu: not all 3 answered"
		cpu=$((cpu + 1))
	done

	vh_run timeout 60 wget -q -O /tmp/down.bin "http://$VH_HOST_IP:8000/blob"
	got=$(md5sum /tmp/down.bin | cut -d' ' -f1)
	[ "$got" = "$VH_BLOB_MD5" ] || vh_die "downloaded blob: md5 $got, expected $VH_BLOB_MD5"
	vh_log "download: $(stat -c %s /tmp/down.bin) bytes, md5 ok"

	vh_run timeout 60 wget -q -O /tmp/up.md5 --post-file=/tmp/down.bin "http://$VH_HOST_IP:8000/up"
	got=$(cat /tmp/up.md5)
	[ "$got" = "$VH_BLOB_MD5" ] || vh_die "upload: the peer's md5 is $got, expected $VH_BLOB_MD5"
	vh_log "upload: md5 ok"
}

# xfer: offloads negotiated (VIRTIO_NET_F_CSUM 0, GUEST_CSUM 1, GUEST_TSO4/6 7 8, HOST_TSO4/6
# 11 12), then net_xfer both ways against the host's.
xfer()
{
	for bit in 1 2 8 9 12 13; do
		[ "$(echo "$f" | cut -c $bit)" = 1 ] || vh_die "offload feature bit $((bit - 1)) not negotiated"
	done
	vh_log "offloads negotiated: CSUM GUEST_CSUM GUEST_TSO4 GUEST_TSO6 HOST_TSO4 HOST_TSO6"
	ping -c 3 -W 5 "$VH_HOST_IP" >/tmp/ping.txt 2>&1 || true
	grep -q "3 packets transmitted, 3 packets received" /tmp/ping.txt ||
		vh_die "ping $VH_HOST_IP: not all 3 answered"
	vh_run timeout 60 /usr/bin/net_xfer send "$VH_HOST_IP" "$VH_XFER_PORT" "$VH_XFER_MIB" 0x5eed
}

if [ -n "${VH_XFER_MIB:-}" ]; then
	xfer
else
	transfer
fi
if [ "$VH_RECONNECT" = 1 ]; then
	# The host kills vh-net now and starts another; /phase2 appears once the new one serves.
	echo VH-PHASE1-DONE
	n=0
	until timeout 5 wget -q -O /tmp/go "http://$VH_HOST_IP:8000/phase2" 2>/dev/null; do
		[ $n -lt 60 ] || vh_die "the network did not come back after the back-end restart"
		sleep 1
		n=$((n + 1))
	done
	vh_log "network back after the back-end restart ($n s)"
	transfer
fi
cat /sys/class/net/$dev/statistics/rx_packets /sys/class/net/$dev/statistics/tx_packets \
	/sys/class/net/$dev/statistics/rx_errors /sys/class/net/$dev/statistics/rx_dropped |
	tr '\n' ' ' | sed 's/^/guest: rx_packets tx_packets rx_errors rx_dropped: /'
echo
SH
}

# vhnet_wait_listen PORT SECS PID: wait until something listens on HOST_IP:PORT in the netns.
vhnet_wait_listen()
{
	local port=$1 tenths=$(($2 * 10)) pid=$3 n=0
	until ip netns exec "$NS" ss -ltnH "sport = :$port" 2>/dev/null | grep -q LISTEN; do
		kill -0 "$pid" 2>/dev/null || vh_fail "process $pid exited before listening on $port"
		[ "$n" -lt "$tenths" ] || vh_fail "nothing listens on $HOST_IP:$port after $2 s"
		sleep 0.1
		n=$((n + 1))
	done
}

# vhnet_restart VARIANT PID SOCK EXTRA...: SIGKILL the vh-net of PID (a crash: the socket file
# stays), start a new one on the same socket and tap, wait until it serves; its PID goes to
# VH_SPAWNED_PID. Not through $( ): a vh_fail there would end only the subshell.
vhnet_restart()
{
	local v=$1 old=$2 sock=$3
	shift 3
	vh_kill_hard "$old" >&2
	vh_spawn "vhnet-$v-2" 200 ip netns exec "$NS" "$VHNET_BIN" --socket-path "$sock" \
		--tap "$TAP" "$@" >&2
	vh_wait_log "$VH_TMP/vhnet-$v-2.log" "serving tap" 20 "$VH_SPAWNED_PID"
}

# vhnet_check_xfer VARIANT PID: the host's net_xfer (PID) passed, and each direction's SHA-256
# is the same on both ends (host log, guest console).
vhnet_check_xfer()
{
	local v=$1 pid=$2 st=0 dir h g
	wait "$pid" || st=$?
	cat "$VH_TMP/xfer-$v.log"
	[ "$st" -eq 0 ] || vh_fail "the host's net_xfer failed (status $st)"
	for dir in up down; do
		h=$(sed -n "s/^net_xfer: $dir .* sha256 \([0-9a-f]*\) .*/\1/p" "$VH_TMP/xfer-$v.log")
		g=$(tr -d '\r' <"$VH_TMP/console.txt" |
			sed -n "s/^net_xfer: $dir .* sha256 \([0-9a-f]*\) .*/\1/p")
		if [ -z "$h" ] || [ "$h" != "$g" ]; then
			vh_fail "$dir: sha256 host '$h', guest '$g'"
		fi
		vh_log "$dir: sha256 $h on both ends"
	done
}

vhnet_run_variant()
{
	local v=$1 extra=() dev mrg=1 packed=0 pairs=1 smp=1 netdev sock blob st=0 vhnet peer md5 i
	local reconnect=0 chardev guest log xfer_env=() xfer='' gfiles=() sha n
	dev="virtio-net-pci,netdev=n0,mac=$GUEST_MAC,vectors=0"
	netdev=vhost-user,id=n0,chardev=c0
	sock=$VH_TMP/$v.sock
	chardev="socket,id=c0,path=$sock"
	case "$v" in
	mrg) ;;
	nomrg) extra=(--no-mrg-rxbuf) mrg=0 ;;
	packed) dev="$dev,packed=on" packed=1 ;;
	mq2)
		pairs=2 smp=2 dev="$dev,mq=on" netdev="$netdev,queues=2"
		# --verbose: the log names each request, to see the per-pair ADD_MEM_REG below.
		extra=(--queue-pairs 2 --verbose)
		;;
	reconnect) reconnect=1 chardev="$chardev,reconnect=1" ;;
	poll) extra=(--poll) ;;
	qemu10)
		. "$VH_GUEST_DIR/qemu.sh"
		vh_qemu_backports || vh_fail "no QEMU 10.0 from bookworm-backports"
		vh_log "QEMU $VH_QEMU_VERSION"
		# No vectors=0: MSI-X, as a real guest has it.
		dev="virtio-net-pci,netdev=n0,mac=$GUEST_MAC,csum=on,guest_csum=on"
		dev="$dev,host_tso4=on,host_tso6=on,guest_tso4=on,guest_tso6=on"
		vh_static_cc "$VH_TMP/net_xfer" "$VH_INTEROP/guest-progs/net_xfer.c"
		sha=$(printf abc | sha256sum | cut -d' ' -f1)
		[ "$("$VH_TMP/net_xfer" selftest)" = "$sha" ] || vh_fail "net_xfer's SHA-256 is wrong"
		xfer_env=(--env "VH_XFER_MIB=$XFER_MIB" --env "VH_XFER_PORT=$XFER_PORT")
		gfiles=(--bin "$VH_TMP/net_xfer")
		;;
	*) vh_fail "unknown variant $v (one of: $VARIANTS)" ;;
	esac
	vh_log "variant $v: device $dev"
	vhnet_netns "$pairs"
	blob=$VH_TMP/blob
	# Text: busybox wget --post-file sends the file as a C string (up to the first NUL byte).
	head -c 786432 /dev/urandom | base64 -w 0 >"$blob"
	md5=$(md5sum "$blob" | cut -d' ' -f1)

	vh_spawn "vhnet-$v" 200 ip netns exec "$NS" "$VHNET_BIN" --socket-path "$sock" \
		--tap "$TAP" "${extra[@]}"
	vhnet=$VH_SPAWNED_PID
	vh_wait_socket "$sock" 20 "$vhnet"
	vh_spawn "peer-$v" 200 ip netns exec "$NS" python3 "$VH_TMP/peer.py" "$HOST_IP" "$blob" \
		"$VH_TMP/up.bin" "$VH_TMP/phase2"
	peer=$VH_SPAWNED_PID
	vhnet_wait_listen 8000 20 "$peer"
	if [ ${#xfer_env[@]} -gt 0 ]; then
		vh_spawn "xfer-$v" 200 ip netns exec "$NS" "$VH_TMP/net_xfer" serve "$HOST_IP" \
			"$XFER_PORT"
		xfer=$VH_SPAWNED_PID
		vhnet_wait_listen "$XFER_PORT" 20 "$xfer"
	fi

	vh_guest_build --script "$VH_TMP/guest.sh" --load "virtio_pci virtio_net" \
		--wait /sys/class/net/eth0 --env VH_HOST_IP=$HOST_IP --env VH_GUEST_IP=$GUEST_IP \
		--env VH_MAC=$GUEST_MAC --env VH_BLOB_MD5="$md5" --env VH_EXPECT_MRG=$mrg \
		--env VH_EXPECT_PACKED=$packed --env VH_EXPECT_PAIRS=$pairs \
		--env VH_RECONNECT=$reconnect "${xfer_env[@]}" "${gfiles[@]}" --guest-timeout 120
	vh_guest_run --smp "$smp" --timeout 170 -- -chardev "$chardev" -netdev "$netdev" \
		-device "$dev" &
	guest=$!
	VH_PIDS+=("$guest")
	if [ "$reconnect" = 1 ]; then
		vh_wait_log "$VH_TMP/console.txt" VH-PHASE1-DONE 120 "$guest"
		vhnet_restart "$v" "$vhnet" "$sock" "${extra[@]}"
		vhnet=$VH_SPAWNED_PID
		: >"$VH_TMP/phase2"
	fi
	wait "$guest" || st=$?
	[ "$st" -eq 0 ] || vh_fail "guest failed (variant $v, run-guest status $st)"
	kill -0 "$vhnet" 2>/dev/null || vh_fail "vh-net exited during the test"
	if [ -n "$xfer" ]; then
		vhnet_check_xfer "$v" "$xfer"
	else
		cmp "$blob" "$VH_TMP/up.bin" || vh_fail "the file the guest uploaded differs from the blob"
	fi
	vh_kill "$peer"
	vh_kill "$vhnet"
	log=$VH_TMP/vhnet-$v.log
	if [ "$reconnect" = 1 ]; then
		log=$VH_TMP/vhnet-$v-2.log
		grep -q "front-end connected" "$log" || vh_fail "QEMU never reconnected to vh-net"
	fi
	grep -E "tx [1-9][0-9]* frames" "$log" || vh_fail "vh-net did not exit cleanly"
	if [ "$v" = poll ]; then
		grep -q "poll datapath" "$log" || vh_fail "vh-net did not run its poll datapath"
	fi
	! grep -E "Sanitizer|runtime error" "$VH_TMP"/vhnet-"$v"*.log || vh_fail "sanitizer report"
	[ ! -e "$sock" ] || vh_fail "vh-net left its socket $sock behind"
	if [ -n "$xfer" ]; then
		grep -E "tx [0-9]+ frames .*[1-9][0-9]* gso\); rx [0-9]+ frames [0-9]+ bytes \([1-9][0-9]* gso" \
			"$log" || vh_fail "vh-net carried no GSO frames in one direction (offloads not in use)"
	fi
	for ((i = 0; pairs > 1 && i < pairs; i++)); do
		grep -E "pair $i: tx [1-9][0-9]* frames, rx [1-9]" "$log" ||
			vh_fail "queue pair $i carried no frames in one direction"
	done
	if [ "$pairs" -gt 1 ]; then
		# QEMU sends the guest RAM once per pair (CONFIGURE_MEM_SLOTS): pair 1's ADD_MEM_REG
		# (after its SET_FEATURES) repeats pair 0's regions and is accepted (vh_memmap_add()
		# counts identical regions).
		n=$(grep -oE "VHOST_USER_(SET_FEATURES|ADD_MEM_REG)" "$log" | sed 's/VHOST_USER_//' |
			tr '\n' ' ')
		vh_log "memory sequence: $n"
		echo "$n" | grep -qE "SET_FEATURES (ADD_MEM_REG )+SET_FEATURES (ADD_MEM_REG )+" ||
			vh_fail "expected ADD_MEM_REG from each queue pair"
		! grep -q "overlap a mapped region" "$log" || vh_fail "a duplicate region was refused"
	fi
	rm -f "$blob" "$VH_TMP/up.bin"
	ip netns del "$NS"
	NS_MADE=0
	vh_log "variant $v: PASS"
}

main()
{
	local v variants=${*:-$VARIANTS}
	vh_init "vhnet-${variants// /-}"
	trap 'vhnet_cleanup $?' EXIT
	vh_need ip python3 md5sum ss
	VHNET_BIN=$LIBVHOST_BUILD/devices/vh-net/vh-net
	[ -x "$VHNET_BIN" ] || vh_fail "$VHNET_BIN not built"
	[ "$(id -u)" = 0 ] || vh_unavailable "needs root (network namespace, tap)"
	[ -c /dev/net/tun ] || vh_unavailable "/dev/net/tun missing"
	vhnet_peer_script
	vhnet_guest_script
	for v in $variants; do
		vhnet_run_variant "$v"
	done
}

main "$@"
