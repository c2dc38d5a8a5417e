"""The files of a bundle's guest, as the VM sees them: its squashfs root (rootfs.img) and its
initramfs, unpacked with the host's own tools (unsquashfs, cpio), not with our code."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import subprocess
from pathlib import Path
from typing import Dict, Tuple

Tree = Dict[str, Tuple[str, object]]


def disk_tree(root: Path) -> Tree:
    """path -> ("file", sha256) | ("link", target) | ("dir", None) of a directory tree."""
    tree: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                tree[rel] = ("link", os.readlink(full))
            elif stat.S_ISREG(mode):
                tree[rel] = ("file", hashlib.sha256(full.read_bytes()).hexdigest())
            else:  # directories, and the initramfs's /dev/console
                tree[rel] = ("dir", None)
    return tree


def files_only(tree: Tree, drop=()) -> Tree:
    return {p: v for p, v in tree.items() if v[0] != "dir" and not any(p == d or p.startswith(d + "/") for d in drop)}


def unpack_initrd(bundle: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    data = (bundle / "initrd").read_bytes()
    cpio = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    subprocess.run(["cpio", "-id", "--quiet"], input=cpio, cwd=dest, check=True)
    return dest


def unpack_rootfs(bundle: Path, dest: Path) -> Path:
    subprocess.run(["unsquashfs", "-q", "-n", "-d", str(dest), str(bundle / "rootfs.img")], check=True)
    return dest
