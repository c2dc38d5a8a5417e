#!/usr/bin/env python3
"""Write a deterministic squashfs root filesystem image from a directory tree.

Runs inside a Pants sandbox as a cached process (and is imported by unit tests). Standard
library only; works on CPython 3.7+.

    mkrootfs.py SPEC.json

SPEC keys:
  root:        directory whose contents become the disk's `/`
  output:      path of the image to write
  mksquashfs:  argv prefix that runs mksquashfs (e.g. ["/usr/bin/mksquashfs"], or the Debian
               tree's ld.so + binary)
  compression: squashfs compressor: "lz4" (default) | "zstd" | "gzip" | ...
  block_size:  data block size in bytes (default 131072)
  dirs:        directories that must exist in the image (mount points: "proc", "sys", ...)
  extra_args:  more mksquashfs options (tests use "-processors N")

Determinism: the tree's modes are normalised first (directories and executables 0755, other
files 0644: the sandbox's umask must not leak into the image), then mksquashfs runs with
`-all-root -no-xattrs -mkfs-time 0 -all-time 0 -noappend`; it sorts directory entries itself and
its output does not depend on `-processors` (checked by rootfs/mkrootfs_test.py).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from typing import List, Sequence

DEFAULT_COMPRESSION = "lz4"  # the kernel's `disk` fragment enables only squashfs's lz4
DEFAULT_BLOCK_SIZE = 128 * 1024

# Compressor options: favour decompression speed in the guest (see docs/how-it-works.md).
COMPRESSOR_OPTIONS = {
    "lz4": ["-Xhc"],  # high compression: smaller, decompresses just as fast
    "zstd": ["-Xcompression-level", "19"],
}


def normalise_modes(root: str) -> None:
    """0755 for directories and files with any execute bit, 0644 for other files; symlinks kept."""
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode):
                continue  # directories are chmod'ed when walked; symlinks have no mode
            os.chmod(path, 0o755 if st.st_mode & 0o111 else 0o644)


def mksquashfs_argv(
    mksquashfs: Sequence[str],
    root: str,
    output: str,
    compression: str,
    block_size: int,
    extra_args: Sequence[str] = (),
) -> List[str]:
    return [
        *mksquashfs,
        root,
        output,
        "-noappend",
        "-all-root",
        "-no-xattrs",
        "-mkfs-time", "0",
        "-all-time", "0",
        "-comp", compression,
        *COMPRESSOR_OPTIONS.get(compression, []),
        "-b", str(block_size),
        "-quiet",
        "-no-progress",
        *extra_args,
    ]


def build(spec: dict) -> None:
    root = spec["root"]
    os.makedirs(root, exist_ok=True)
    for d in spec.get("dirs", ()):
        path = os.path.join(root, d)
        if not os.path.lexists(path):
            os.makedirs(path)
    normalise_modes(root)
    output = spec["output"]
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    if os.path.exists(output):
        os.unlink(output)
    argv = mksquashfs_argv(
        spec["mksquashfs"],
        root,
        output,
        spec.get("compression", DEFAULT_COMPRESSION),
        int(spec.get("block_size", DEFAULT_BLOCK_SIZE)),
        spec.get("extra_args", ()),
    )
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.stderr.write(result.stdout.decode(errors="replace"))
        raise SystemExit(f"mksquashfs failed (exit code {result.returncode}): {' '.join(argv)}")


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        build(json.load(f))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
