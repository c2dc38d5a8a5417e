from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from unikernel_rules.rootfs import mkrootfs

MKSQUASHFS = shutil.which("mksquashfs") or (
    "/usr/bin/mksquashfs" if os.path.exists("/usr/bin/mksquashfs") else None
)
pytestmark = pytest.mark.skipif(MKSQUASHFS is None, reason="mksquashfs (squashfs-tools) not installed")


def _write(root, rel, data, mode=0o644):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


FILES = [
    ("app/hello", b"\x7fELF fake program" * 100, 0o755),
    ("app/data/b.txt", b"bbb\n" * 1000, 0o644),
    ("app/data/a.txt", b"aaa\n", 0o644),
    ("usr/lib/python3.11/os.py", b"import sys\n" * 5000, 0o644),
]


def _tree(root, reverse, mode_bias, mtime):
    os.makedirs(root)
    for rel, data, mode in reversed(FILES) if reverse else FILES:
        # Differing permissions beyond x/non-x (umask 077 vs 022) must not matter.
        _write(root, rel, data, mode & ~mode_bias)
    os.symlink("hello", os.path.join(root, "app", "link"))
    os.symlink("python3.11", os.path.join(root, "usr", "lib", "python3"))
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
        os.chmod(dirpath, 0o755 & ~mode_bias)


def _build(tmp_path, name, reverse, mode_bias, mtime, processors=None):
    root = str(tmp_path / name / "root")
    _tree(root, reverse, mode_bias, mtime)
    out = str(tmp_path / name / "out" / "rootfs.img")
    extra = ["-processors", str(processors)] if processors else []
    spec = {"root": root, "output": out, "mksquashfs": [MKSQUASHFS], "dirs": ["proc", "tmp"], "extra_args": extra}
    mkrootfs.build(spec)
    return out


def test_byte_identical_across_order_mtimes_umask_and_processors(tmp_path):
    a = _build(tmp_path, "a", reverse=False, mode_bias=0o022, mtime=1_000_000, processors=1)
    b = _build(tmp_path, "b", reverse=True, mode_bias=0o077, mtime=int(time.time()), processors=2)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()


@pytest.mark.skipif(shutil.which("unsquashfs") is None, reason="unsquashfs not installed")
def test_contents_modes_and_symlinks(tmp_path):
    img = _build(tmp_path, "a", reverse=False, mode_bias=0o077, mtime=12345)
    listing = subprocess.run(
        ["unsquashfs", "-lln", img], capture_output=True, check=True
    ).stdout.decode()
    lines = {line.split()[-1] if "->" not in line else line.split()[-3]: line for line in listing.splitlines() if "squashfs-root" in line}
    assert lines["squashfs-root/app/hello"].startswith("-rwxr-xr-x 0/0")
    assert lines["squashfs-root/app/data/a.txt"].startswith("-rw-r--r-- 0/0")
    assert lines["squashfs-root/app"].startswith("drwxr-xr-x 0/0")
    assert lines["squashfs-root/proc"].startswith("drwxr-xr-x 0/0")
    assert "squashfs-root/app/link -> hello" in listing
    assert "squashfs-root/usr/lib/python3 -> python3.11" in listing
    assert "1970-01-01 00:00" in lines["squashfs-root/app/hello"]
