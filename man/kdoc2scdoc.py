#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""kdoc2scdoc.py HEADER PAGE VERSION > PAGE.3.scd

One man page (scdoc source) per public header of include/vhost/: the header's top comment is the
DESCRIPTION, each documented struct and each VH_API function (with its kernel-doc block, which
scripts/check-kerneldoc.sh keeps complete) a subsection. The text is kept verbatim in literal
blocks, so nothing in the comments needs scdoc escaping.
"""
import os
import re
import sys


def top_comment(lines):
    """The first /* ... */ block that is not the SPDX line."""
    out, inside = [], False
    for line in lines:
        if not inside and line.startswith('/*') and 'SPDX' not in line:
            inside = True
            continue
        if inside:
            if line.strip().startswith('*/'):
                break
            out.append(re.sub(r'^ \* ?|^ \*$', '', line))
    return out


def doc_text(block):
    text = []
    for line in block:
        s = line.strip()
        if s.startswith('/**') or s == '*/':
            continue
        text.append(re.sub(r'^\s*\* ?', '', line.rstrip()).rstrip('*/').rstrip())
    return text


def items(lines):
    """Yield (kind, name, code lines, doc lines) for documented structs and VH_API functions."""
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith('/**'):
            j = i
            while '*/' not in lines[j]:
                j += 1
            block = lines[i:j + 1]
            k = j + 1
            # A group of declarations under one comment.
            if k < len(lines) and re.match(r'\s*VH_API\b', lines[k]):
                while k < len(lines) and re.match(r'\s*VH_API\b', lines[k]):
                    e = k
                    while ';' not in lines[e]:
                        e += 1
                    decl = [l.replace('VH_API ', '', 1) for l in lines[k:e + 1]]
                    m = re.search(r'(\w+)\s*\(', ' '.join(decl))
                    yield 'fn', m.group(1) if m else '?', decl, doc_text(block)
                    block = []
                    k = e + 1
                i = k
                continue
            m = re.match(r'\s*(struct|enum)\s+(\w+)\s*\{', lines[k] if k < len(lines) else '')
            if m:
                e = k
                while not lines[e].startswith('};'):
                    e += 1
                yield m.group(1), m.group(1) + ' ' + m.group(2), lines[k:e + 1], doc_text(block)
                i = e + 1
                continue
            i = j + 1
            continue
        i += 1


def literal(lines):
    out = ['```']
    out += [l.replace('\t', '        ') for l in lines]
    out.append('```')
    return out


SUMMARY = {
    'vh_dev': 'vhost front-end device on a vhost-user socket, vhost-kernel or vhost-vdpa',
    'vh_kernel': 'vhost-kernel specifics: net back-end tap, vsock guest CID, scsi target',
    'vh_server': 'vhost-user back-end library: server, connections, queues',
    'vh_program': 'vhost-user back-end program conventions for daemons',
    'vh_blk': 'userspace virtio-blk driver on a vhost device',
    'vh_net': 'userspace virtio-net driver on a vhost device',
    'vh_vq': 'split and packed virtqueues, device and driver side, inflight tracking',
    'vh_mem': 'memory tables, guest address translation and IOTLB',
    'vh_log': 'dirty log for live migration',
    'vh_sock': 'vhost-user messages with file descriptors over unix sockets',
    'vh_proto': 'vhost-user wire structures, validators and names',
}


def main():
    header, page, version = sys.argv[1:4]
    with open(header) as f:
        lines = f.read().split('\n')
    base = os.path.basename(header)
    desc = top_comment(lines)
    summary = SUMMARY.get(page, base)
    out = ['%s(3) "libvhost %s" "libvhost manual"' % (page, version), '', '# NAME', '',
           '%s - %s' % (page, summary.replace('*', '\\*').replace('_', '\\_')), '',
           '# SYNOPSIS', '']
    out += literal(['#include <vhost/%s>' % base, '',
                    'cc ... $(pkg-config --cflags --libs libvhost)'])
    out += ['', '# DESCRIPTION', '']
    out += literal(desc)
    out += ['', 'Every function returns >= 0 on success and a negative errno value on failure '
            'unless its text says otherwise; see *libvhost*(3) for the conventions.', '']
    fns = [it for it in items(lines)]
    structs = [it for it in fns if it[0] != 'fn']
    funcs = [it for it in fns if it[0] == 'fn']
    if structs:
        out += ['# TYPES', '']
        for _, name, code, doc in structs:
            out += ['## %s' % name, '']
            out += literal(doc + [''] + code if doc else code)
            out.append('')
    if funcs:
        out += ['# FUNCTIONS', '']
        for _, name, decl, doc in funcs:
            out += ['## %s()' % name.replace('_', '\\_'), '']
            out += literal(decl + ([''] + doc if doc else []))
            out.append('')
    out += ['# SEE ALSO', '', '*libvhost*(3)', '']
    sys.stdout.write('\n'.join(out))


main()
