#!/usr/bin/env python3
# Seed inputs for the harnesses whose input is a guest memory image or a scripted peer
# (fuzz_blk, fuzz_net, fuzz_vq_driver, fuzz_inflight, fuzz_iotlb, fuzz_backend_reply): each
# seed is a well-formed case the fuzzer mutates from. Layouts: see each harness's header.
# Run from anywhere: writes into fuzz/corpus/<name>/ (make fuzz merges
# what the campaigns find into the same directories).
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(name, seed, data):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, seed), "wb") as f:
        f.write(bytes(data))


def ram(size):
    return bytearray(size)


def w(buf, off, fmt, *v):
    struct.pack_into("<" + fmt, buf, off, *v)


NEXT, WRITE, INDIRECT = 1, 2, 4
AVAIL, USED = 1 << 7, 1 << 15


def split_layout(num):
    drv = 16 * num
    dev = (drv + 6 + 2 * num + 63) & ~63
    return drv, dev


def split_ring(mem, base, num, chains):
    """chains: list of [(addr, len, flags)]; descriptors laid out in order, heads published."""
    drv, _ = split_layout(num)
    i = 0
    heads = []
    for ch in chains:
        heads.append(i)
        for k, (a, l, f) in enumerate(ch):
            nxt = i + 1 if k + 1 < len(ch) else 0
            w(mem, base + 16 * i, "QIHH", a, l, f | (NEXT if k + 1 < len(ch) else 0), nxt)
            i += 1
    w(mem, base + drv, "HH", 0, len(heads))
    for n, h in enumerate(heads):
        w(mem, base + drv + 4 + 2 * n, "H", h)


def packed_ring(mem, base, chains, wrap=True):
    i = 0
    for cid, ch in enumerate(chains):
        for k, (a, l, f) in enumerate(ch):
            fl = f | (NEXT if k + 1 < len(ch) else 0)
            fl |= AVAIL if wrap else USED
            w(mem, base + 16 * i, "QIHH", a, l, cid, fl)
            i += 1


# ---- fuzz_blk: [ring bits][base] + guest RAM (ring at GPA 0) --------------------------------
HDR, DATA, ST, SEG = 0x400, 0x800, 0xc00, 0xd00


def blk_req(mem, off, typ, sector):
    w(mem, off, "IIQ", typ, 0, sector)


def blk(seed, typ, sector=2, dlen=512, dwrite=None, packed=False, indirect=False, num=8,
        extra=b""):
    mem = ram(0xe00)
    blk_req(mem, HDR, typ, sector)
    if dwrite is None:
        dwrite = typ in (0, 8)
    chain = [(HDR, 16, 0)]
    if dlen:
        chain.append((DATA, dlen, WRITE if dwrite else 0))
    chain.append((ST, 1, WRITE))
    if extra:
        mem[SEG:SEG + len(extra)] = extra
    if indirect:
        tbl = 0x300
        for k, (a, l, f) in enumerate(chain):
            w(mem, tbl + 16 * k, "QIHH", a, l, f | (NEXT if k + 1 < len(chain) else 0),
              k + 1 if k + 1 < len(chain) else 0)
        chain = [(tbl, 16 * len(chain), INDIRECT)]
    if packed:
        packed_ring(mem, 0, [chain])
    else:
        split_ring(mem, 0, num, [chain])
    n = num.bit_length() - 1
    flags = (n << 5) | (1 if packed else 0) | (2 if indirect else 0)
    put("blk", seed, bytes([flags, 0x80 if packed else 0]) + mem)


blk("read", 0)
blk("write", 1)
blk("flush", 4, dlen=0)
blk("get_id", 8, dlen=20)
blk("read_out_of_range", 0, sector=1 << 40)
blk("discard", 11, dlen=16, dwrite=False)
blk("packed_read", 0, packed=True)
blk("indirect_write", 1, indirect=True)
blk("write_stop_restart", 1)
with open(os.path.join(HERE, "blk", "write_stop_restart"), "r+b") as f:
    b0 = f.read(1)[0]
    f.seek(0)
    f.write(bytes([b0 | 16]))
mem = ram(0xe00)
w(mem, DATA, "QII", 4, 8, 0)  # one discard segment: sector 4, 8 sectors
blk_req(mem, HDR, 13, 0)
split_ring(mem, 0, 8, [[(HDR, 16, 0), (DATA, 16, 0), (ST, 1, WRITE)]])
put("blk", "write_zeroes", bytes([3 << 5, 0]) + mem)

# ---- fuzz_net: [ring bits][base] + guest RAM (rx ring at 0, tx ring at 0x1000) --------------
def net(seed, mrg=False, packed=False, rx_bufs=((0x3000, 2048),), stop=False, ctrl=None):
    mem = ram(0x4000)
    if ctrl:  # (class, command, data): virtio 1.2 §5.1.6.5, ring 2 at 0x800, ack at 0x3f00
        cls, cmd, data = ctrl
        mem[0x3e00:0x3e02] = bytes([cls, cmd])
        mem[0x3e10:0x3e10 + len(data)] = data
        chain = [(0x3e00, 2, 0), (0x3e10, len(data), 0), (0x3f00, 1, WRITE)]
        if packed:
            packed_ring(mem, 0x800, [chain])
        else:
            split_ring(mem, 0x800, 8, [chain])
    frame = bytes(12) + bytes.fromhex("525400123456") + bytes.fromhex("525400abcdef") + \
        b"\x08\x00" + bytes(range(46))
    mem[0x2000:0x2000 + len(frame)] = frame
    tx = [[(0x2000, len(frame), 0)]]
    rx = [[(a, l, WRITE)] for a, l in rx_bufs]
    if packed:
        packed_ring(mem, 0x1000, tx)
        packed_ring(mem, 0, rx)
    else:
        split_ring(mem, 0x1000, 8, tx)
        split_ring(mem, 0, 8, rx)
    flags = (3 << 5) | (1 if packed else 0) | (8 if mrg else 0) | (16 if stop else 0)
    put("net", seed, bytes([flags, 0x80 if packed else 0]) + mem)


net("echo")
net("echo_mrg", mrg=True, rx_bufs=((0x3000, 40), (0x3100, 40), (0x3200, 40)))
net("echo_packed", packed=True)
net("short_rx_no_mrg", rx_bufs=((0x3000, 40),))
net("rx_stop_pending", rx_bufs=(), stop=True)
net("ctrl_promisc", ctrl=(0, 0, b"\x01"))
net("ctrl_mac_set", ctrl=(1, 1, bytes.fromhex("525400aabbcc")))
net("ctrl_mac_table", ctrl=(1, 0, struct.pack("<I", 1) + bytes(6) + struct.pack("<I", 0)))
net("ctrl_mq_pairs", ctrl=(4, 0, struct.pack("<H", 1)))
net("ctrl_packed_vlan", packed=True, ctrl=(2, 0, struct.pack("<H", 5)))

# ---- fuzz_vq_driver: [bits] then commands ---------------------------------------------------
def drv(seed, first, cmds):
    put("vq_driver", seed, bytes([first]) + bytes(cmds))


# split, 8 entries: used ring at ring offset 192 (idx at 194, ring[0] at 196)
drv("split_add_used", 3 << 3, [0, 0x05, 0, 0x06, 1, 24, 0, 0, 2, 0, 0, 0, 0, 0, 1, 25, 64, 0, 0, 0,
                               0, 0, 0, 0, 2])
drv("split_bad_id", 3 << 3, [0, 0x05, 1, 24, 0, 0, 1, 0, 9, 0, 0, 0, 2])
drv("split_event_idx", (3 << 3) | 2, [3, 1, 0, 0x05, 3, 0, 0, 0x05, 3, 1, 2])
# packed, 8 entries: a used descriptor over slot 0 (bytes 8-15: len, id, flags AVAIL|USED)
drv("packed_add_used", (3 << 3) | 1, [0, 0x05, 0, 0x05, 1, 1, 64, 0, 0, 0, 0, 0, 0x80, 0x80, 2])
drv("packed_bad_id", (3 << 3) | 1, [0, 0x05, 1, 1, 64, 0, 0, 0, 7, 0, 0x80, 0x80, 2])
drv("packed_indirect", (3 << 3) | 5, [0, 0x15, 0, 0x15, 1, 1, 8, 0, 0, 0, 1, 0, 0x80, 0x80, 2, 3, 1])
drv("packed_wrap", 1 | (0 << 3), [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 2, 0, 1, 1, 1, 0, 0, 0, 0,
                                  0, 0, 0, 0, 2])

# ---- fuzz_inflight: [bits][num][mask][off lo][off hi][scribble] + region + guest RAM -------
def infl_split(seed, entries, used_idx=0, last_batch=0, version=1, num=8, ring_used=0):
    region = bytearray(192)
    w(region, 0, "QHHHH", 0, version, num, last_batch, used_idx)
    for head, (flag, nxt, counter) in entries.items():
        w(region, 16 + 16 * head, "B5xHQ", flag, nxt, counter)
    mem = ram(0x1000)
    split_ring(mem, 0, num, [[(0x800 + 64 * i, 64, WRITE)] for i in range(4)])
    drv_off, dev_off = split_layout(num)
    w(mem, drv_off + 2, "H", 4)
    w(mem, dev_off + 2, "H", ring_used)
    put("inflight", seed, bytes([0, 3, 0x55, 20, 0, 0]) + region + mem)


infl_split("fresh", {}, version=0)
infl_split("resubmit_two", {0: (1, 8, 5), 2: (1, 8, 3)})
infl_split("repair_batch", {1: (1, 3, 1), 3: (1, 8, 2)}, used_idx=0, last_batch=1, ring_used=1)
infl_split("corrupt_flag", {0: (2, 8, 1)})
infl_split("wrong_desc_num", {0: (1, 8, 1)}, num=8, version=1)
put("inflight", "packed_fresh", bytes([1, 7, 0xff, 0, 0, 0]) + bytes(1024) + bytes(0x400))

# ---- fuzz_iotlb: [bits] then [len][bytes] reads ----------------------------------------------
def iotlb_msg(v2, iova, size, perm, typ):
    body = struct.pack("<QQQBB", iova, size, 0, perm, typ).ljust(64, b"\0")
    if v2:
        return struct.pack("<II", 2, 0) + body  # VHOST_IOTLB_MSG_V2
    return struct.pack("<I4x", 1) + body  # VHOST_IOTLB_MSG


def reads(*msgs):
    out = b""
    for m in msgs:
        out += bytes([len(m) if isinstance(m, bytes) else m]) + (m if isinstance(m, bytes) else b"")
    return out


put("iotlb", "v2_miss", bytes([2]) + reads(iotlb_msg(True, 0x5000, 0, 3, 1)))
put("iotlb", "v1_miss", bytes([0]) + reads(iotlb_msg(False, 0x3000, 0, 1, 1)))
put("iotlb", "v2_miss_unmapped", bytes([2]) + reads(iotlb_msg(True, 0x200000, 0, 3, 1)))
put("iotlb", "v2_access_fail", bytes([2]) + reads(iotlb_msg(True, 0x1000, 0, 2, 4)))
put("iotlb", "vdpa_batch_miss", bytes([7]) + reads(iotlb_msg(True, 0x1000, 0, 3, 1),
                                                  iotlb_msg(True, 0x2000, 0, 1, 1)))
put("iotlb", "short_read", bytes([2]) + reads(iotlb_msg(True, 0x1000, 0, 3, 1)[:40]))
put("iotlb", "read_error", bytes([2]) + reads(255))
put("iotlb", "v1_type_mismatch", bytes([2]) + reads(iotlb_msg(False, 0x1000, 0, 3, 1)))

# ---- fuzz_backend_reply: a record per reply (op + 8 XOR bytes = correct) ----------------------
GOOD = bytearray(420)


def reply_seed(seed, patches):
    b = bytearray(GOOD)
    for off, data in patches:
        b[off:off + len(data)] = data
    put("backend_reply", seed, b)


reply_seed("good_backend", [])
# Offsets (FUZZ_TRACE=1 prints them): 0 GET_FEATURES, 36 back-end requests, 37 its ack,
# 82 GET_INFLIGHT_FD, 271 GET_CONFIG, 361 GET_VRING_BASE, 388 RESET_DEVICE (397 bytes in all).
reply_seed("stray_fds", [(0, b"\x0e")])
reply_seed("inflight_huge", [(82, b"\x00" + b"\xff" * 7 + b"\x7f")])
reply_seed("inflight_fds", [(82, b"\x0e")])
reply_seed("vring_base_size", [(361, b"\x01" + bytes(8) + b"\x10\x00\x00\x00")])
reply_seed("config_size", [(271, b"\x01" + bytes(8) + b"\x04\x00\x00\x00")])
reply_seed("wrong_request", [(55, b"\x01\x05" + bytes(11))])
reply_seed("hangup_mid", [(118, b"\x03")])
miss = struct.pack("<QQQBB", 0x1000, 0, 0, 3, 1).ljust(64, b"\0")
reply_seed("backend_iotlb_miss", [(36, b"\x01\x01\x08\x40" + miss)])
reply_seed("backend_config_change", [(36, b"\x02\x02\x08\x00\x03\x00\x00")])
