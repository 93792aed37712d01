#!/usr/bin/env python3
"""A minimal QMP client for interop tests (stdlib only).

  qmp.py SOCK CMD [JSON-ARGS]          run one command, print its "return" as JSON
  qmp.py SOCK migrate URI SECS         start a migration, poll query-migrate every 0.1 s until
                                       "completed" (exit 0) or "failed"/"cancelled"/SECS elapsed
                                       (exit 1); prints each status change and the final stats

QEMU must listen with -qmp unix:SOCK,server=on,wait=off. Every read has a timeout.
"""
import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        greeting = self.read()
        if "QMP" not in greeting:
            raise RuntimeError("no QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    def read(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("QMP connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.read()
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"].get("desc", r["error"])))
            return r.get("return")


def migrate(q, uri, secs):
    q.cmd("migrate", {"uri": uri})
    start = time.monotonic()
    last = None
    shown = 0.0
    while time.monotonic() < start + secs:
        r = q.cmd("query-migrate")
        status = r.get("status")
        now = time.monotonic() - start
        if status != last or now >= shown + 5:
            ram = r.get("ram", {})
            print("migrate: %.1f s: %s, %s bytes sent, %s remaining" % (
                now, status, ram.get("transferred"), ram.get("remaining")), flush=True)
            last = status
            shown = now
        if status == "completed":
            ram = r.get("ram", {})
            print("migrate: total-time %s ms, downtime %s ms, %s bytes, %s dirty-sync rounds"
                  % (r.get("total-time"), r.get("downtime"), ram.get("transferred"),
                     ram.get("dirty-sync-count")), flush=True)
            return 0
        if status in ("failed", "cancelled"):
            print("migrate: %s: %s" % (status, r.get("error-desc", "")), flush=True)
            return 1
        time.sleep(0.1)
    print("migrate: not completed within %s s (status %s)" % (secs, last), flush=True)
    return 1


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    q = Qmp(argv[1])
    if argv[2] == "migrate":
        return migrate(q, argv[3], float(argv[4]))
    args = json.loads(argv[3]) if len(argv) > 3 else None
    print(json.dumps(q.cmd(argv[2], args)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, RuntimeError, ValueError) as e:
        print("qmp: %s" % e, file=sys.stderr)
        sys.exit(1)
