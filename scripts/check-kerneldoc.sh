#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# check-kerneldoc.sh - every exported function (VH_API) in include/vhost/*.h carries kernel-doc.
#
# A declaration passes when the /** ... */ block right above it (or above the group of
# declarations it belongs to, with no blank line in between) names the function, says which
# thread may call it ("Thread:" / "Context:") and, unless it returns void, what it returns
# ("Return:"). Parameters are checked too: every named parameter appears as @name.
#
# Usage: scripts/check-kerneldoc.sh [header...]   (default: include/vhost/*.h)
# Exit status: 0 all documented, 1 something missing (one line per problem on stderr).
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- include/vhost/*.h
exec python3 - "$@" <<'PY'
import re
import sys

bad = 0


def decls(lines):
    """Yield (start, end, text) of each VH_API declaration (may span lines, ends with ';')."""
    i = 0
    while i < len(lines):
        if re.match(r'\s*VH_API\b', lines[i]):
            j = i
            while ';' not in lines[j] and j + 1 < len(lines):
                j += 1
            yield i, j, ' '.join(l.strip() for l in lines[i:j + 1])
            i = j + 1
        else:
            i += 1


def doc_block(lines, start, starts_ends):
    """The /** */ block above the declaration group containing line @start, or None."""
    k = start - 1
    while k >= 0 and k in starts_ends:  # previous declaration of the same group
        k = starts_ends[k]
        k -= 1
    if k < 0 or not lines[k].rstrip().endswith('*/'):
        return None
    end = k
    while k >= 0 and '/*' not in lines[k]:
        k -= 1
    if k < 0 or '/**' not in lines[k]:
        return None
    return '\n'.join(lines[k:end + 1])


for path in sys.argv[1:]:
    with open(path) as f:
        lines = f.read().split('\n')
    found = list(decls(lines))
    starts_ends = {e: s for s, e, _ in found}  # last line -> first line
    for s, e, text in found:
        m = re.search(r'(\w+)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*(?:__attribute__.*)?;', text)
        if not m:
            print(f'{path}:{s + 1}: cannot parse declaration: {text}', file=sys.stderr)
            bad += 1
            continue
        name, params = m.group(1), m.group(2)
        block = doc_block(lines, s, starts_ends)
        where = f'{path}:{s + 1}: {name}'
        if block is None:
            print(f'{where}: no /** kernel-doc */ block above the declaration', file=sys.stderr)
            bad += 1
            continue
        missing = []
        if not re.search(r'\b' + re.escape(name) + r'\b', block):
            missing.append('its name')
        if not re.search(r'\b(Thread|Context)\b', block):
            missing.append('"Thread:"')
        rettype = text[:m.start(1)].replace('VH_API', '')
        if not re.fullmatch(r'\s*void\s*', rettype) and not re.search(r'\bReturns?\b', block):
            missing.append('"Return:"')
        for p in params.split(','):
            p = p.strip()
            if p in ('', 'void', '...'):
                continue
            pm = re.search(r'\(\s*\*\s*(\w+)\s*\)', p) or re.search(r'(\w+)\s*(\[[^]]*\])?$', p)
            if pm and not re.search(r'@' + re.escape(pm.group(1)) + r'\b', block):
                missing.append('@' + pm.group(1))
        if missing:
            print(f'{where}: kernel-doc lacks {", ".join(missing)}', file=sys.stderr)
            bad += 1

if bad:
    print(f'kerneldoc: {bad} problem(s)', file=sys.stderr)
    sys.exit(1)
print('kerneldoc: ok')
PY
