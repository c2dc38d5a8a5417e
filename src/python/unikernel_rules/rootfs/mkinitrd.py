#!/usr/bin/env python3
"""Write a deterministic initramfs (newc cpio, optionally gzip) from a directory tree.

Runs inside a Pants sandbox as a cached process (and is imported by unit tests). Standard
library only; works on CPython 3.7+.

    mkinitrd.py SPEC.json

SPEC keys:
  root:        directory whose contents become the guest's `/`
  output:      path of the initrd to write
  report:      path of a JSON report (sizes, memory estimate, entry count)
  compression: "gzip" or "none"
  first:       guest paths written first, in order (e.g. "init", ".uk", ".uk/init.conf")
  last:        guest paths written last, in order (".uk/complete": init checks it exists, so a
               partly unpacked archive, the kernel's behaviour when RAM runs out, is detected)
  dirs:        extra empty directories: {"path": "tmp", "mode": 1023}
  devices:     device nodes: {"path": "dev/console", "type": "c", "major": 5, "minor": 1, "mode": 384}
  memory_base_mib: RAM the kernel needs besides the initramfs (memory estimate)
  substitute:  {"path": ".uk/init.conf", "token": "@MEMORY_NEEDED_MIB@"}: replaced by the estimate

Determinism: entries sorted (after `first`, before `last`), inode numbers assigned in order,
mtime 0, uid/gid 0, modes normalised to 0755 (directories, executables) or 0644, gzip header
without name or time.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import stat
import sys
from typing import Dict, Iterable, List, Optional, Tuple

NEWC_MAGIC = b"070701"
TRAILER = "TRAILER!!!"
MIB = 1024 * 1024


class Entry:
    __slots__ = ("path", "mode", "data", "rdev")

    def __init__(self, path: str, mode: int, data: bytes = b"", rdev: Tuple[int, int] = (0, 0)):
        self.path = path
        self.mode = mode
        self.data = data
        self.rdev = rdev


def _pad4(n: int) -> bytes:
    return b"\0" * ((4 - n % 4) % 4)


def newc_header(ino: int, entry: Entry, name: bytes) -> bytes:
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (
        ino,
        entry.mode,
        0,  # uid
        0,  # gid
        nlink,
        0,  # mtime
        len(entry.data),
        0,  # dev major
        0,  # dev minor
        entry.rdev[0],
        entry.rdev[1],
        len(name) + 1,
        0,  # check
    )
    return NEWC_MAGIC + b"".join(b"%08X" % f for f in fields)


def write_cpio(entries: Iterable[Entry]) -> bytes:
    out = bytearray()
    ino = 0
    for entry in [*entries, Entry(TRAILER, 0)]:
        ino += 1
        name = entry.path.encode()
        header = newc_header(0 if entry.path == TRAILER else ino, entry, name)
        out += header + name + b"\0"
        out += _pad4(len(header) + len(name) + 1)
        out += entry.data + _pad4(len(entry.data))
    return bytes(out)


def collect_tree(root: str) -> Dict[str, Entry]:
    entries: Dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir != ".":
            entries[rel_dir] = Entry(rel_dir, stat.S_IFDIR | 0o755)
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                entries[rel] = Entry(rel, stat.S_IFLNK | 0o777, os.readlink(full).encode())
            else:
                with open(full, "rb") as f:
                    data = f.read()
                perm = 0o755 if st.st_mode & 0o111 else 0o644
                entries[rel] = Entry(rel, stat.S_IFREG | perm, data)
    return entries


def add_parents(entries: Dict[str, Entry]) -> None:
    for path in list(entries):
        parent = os.path.dirname(path)
        while parent and parent not in entries:
            entries[parent] = Entry(parent, stat.S_IFDIR | 0o755)
            parent = os.path.dirname(parent)


def order(entries: Dict[str, Entry], first: List[str], last: List[str]) -> List[Entry]:
    pinned = set(first) | set(last)
    middle = sorted(p for p in entries if p not in pinned)
    return [entries[p] for p in first if p in entries] + [entries[p] for p in middle] + [
        entries[p] for p in last if p in entries
    ]


def memory_needed_mib(unpacked_bytes: int, base_mib: int) -> int:
    # While unpacking, the archive and the unpacked files are both in RAM, and the initramfs
    # root is a tmpfs capped at half of the RAM: measured, a 16 MB initramfs needs 64 MiB
    # (16 base + 3 x 16) and fails at 60 MiB. An estimate, on the safe side.
    return base_mib + math.ceil(3 * unpacked_bytes / MIB)


def build(spec: dict) -> dict:
    entries = collect_tree(spec["root"])
    for d in spec.get("dirs", ()):
        entries[d["path"]] = Entry(d["path"], stat.S_IFDIR | d.get("mode", 0o755))
    for dev in spec.get("devices", ()):
        kind = stat.S_IFCHR if dev["type"] == "c" else stat.S_IFBLK
        entries[dev["path"]] = Entry(dev["path"], kind | dev.get("mode", 0o600), b"", (dev["major"], dev["minor"]))
    add_parents(entries)
    unpacked = sum(len(e.data) for e in entries.values())
    needed = memory_needed_mib(unpacked, int(spec.get("memory_base_mib", 0)))
    sub: Optional[dict] = spec.get("substitute")
    if sub and sub["path"] in entries:
        e = entries[sub["path"]]
        e.data = e.data.replace(sub["token"].encode(), str(needed).encode())
    archive = write_cpio(order(entries, spec.get("first", []), spec.get("last", [])))
    if spec.get("compression", "gzip") == "gzip":
        archive = gzip.compress(archive, compresslevel=9, mtime=0)
    elif spec["compression"] != "none":
        raise SystemExit(f"unknown compression {spec['compression']!r}")
    os.makedirs(os.path.dirname(spec["output"]) or ".", exist_ok=True)
    with open(spec["output"], "wb") as f:
        f.write(archive)
    report = {
        "entries": len(entries),
        "unpacked_bytes": unpacked,
        "initrd_bytes": len(archive),
        "memory_needed_mib": needed,
    }
    if spec.get("report"):
        with open(spec["report"], "w") as f:
            json.dump(report, f, sort_keys=True)
    return report


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        build(json.load(f))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
