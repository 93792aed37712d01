#!/usr/bin/env bash
# Prints one closing line for `make check` from meson's test logs:  "check: N passed, N failed, N skipped"
set -euo pipefail
pass=0 fail=0 skip=0
for log in "$@"; do
	[ -f "$log" ] || continue
	read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "check: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
