from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess

import pytest

from unikernel_rules.rootfs import mkinitrd


def _tree(tmp_path):
    root = tmp_path / "root"
    (root / "app" / "sub").mkdir(parents=True)
    (root / ".uk").mkdir()
    (root / "init").write_bytes(b"\x7fELF init")
    os.chmod(root / "init", 0o700)
    (root / ".uk" / "init.conf").write_text("memory_needed_mib @MEM@\n")
    (root / ".uk" / "complete").write_text("")
    (root / "app" / "sub" / "data.txt").write_text("hello")
    (root / "app" / "a-b").write_text("x")
    return root


def _spec(tmp_path, root, **extra):
    spec = {
        "root": str(root),
        "output": str(tmp_path / "out" / "initrd"),
        "report": str(tmp_path / "out" / "report.json"),
        "compression": "none",
        "first": ["init", ".uk", ".uk/init.conf"],
        "last": [".uk/complete"],
        "dirs": [{"path": "tmp", "mode": 0o1777}],
        "devices": [{"path": "dev/console", "type": "c", "major": 5, "minor": 1, "mode": 0o600}],
        "memory_base_mib": 10,
        "substitute": {"path": ".uk/init.conf", "token": "@MEM@"},
    }
    spec.update(extra)
    return spec


def _names(archive: bytes):
    names, pos = [], 0
    while True:
        assert archive[pos : pos + 6] == b"070701"
        fields = [int(archive[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize, mode = fields[11], fields[6], fields[1]
        name = archive[pos + 110 : pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += (4 - pos % 4) % 4
        pos += filesize + (4 - filesize % 4) % 4
        if name == "TRAILER!!!":
            return names
        names.append((name, mode, fields[5], fields[2]))


def test_order_modes_and_substitution(tmp_path):
    root = _tree(tmp_path)
    report = mkinitrd.build(_spec(tmp_path, root))
    archive = (tmp_path / "out" / "initrd").read_bytes()
    names = _names(archive)
    paths = [n for n, *_ in names]
    assert paths[:3] == ["init", ".uk", ".uk/init.conf"]
    assert paths[-1] == ".uk/complete"
    assert paths.index("app") < paths.index("app/sub") < paths.index("app/sub/data.txt")
    modes = {n: m for n, m, _, _ in names}
    assert modes["init"] == 0o100755
    assert modes["app/sub/data.txt"] == 0o100644
    assert modes["tmp"] == 0o41777
    assert modes["dev/console"] == 0o20600
    assert all(mtime == 0 and uid == 0 for _, _, mtime, uid in names)
    assert report["memory_needed_mib"] == 11
    assert b"memory_needed_mib 11\n" in archive


def test_byte_identical_from_different_paths_and_umask(tmp_path):
    a = _tree(tmp_path / "a")
    b_parent = tmp_path / "elsewhere" / "deeper"
    b_parent.mkdir(parents=True)
    b = shutil.copytree(a, b_parent / "root")
    os.chmod(b / "app" / "sub" / "data.txt", 0o600)
    mkinitrd.build(_spec(tmp_path / "a", a, compression="gzip"))
    mkinitrd.build(_spec(b_parent, b, compression="gzip"))
    assert (tmp_path / "a" / "out" / "initrd").read_bytes() == (b_parent / "out" / "initrd").read_bytes()


@pytest.mark.skipif(shutil.which("cpio") is None, reason="GNU cpio not installed")
def test_gnu_cpio_reads_it(tmp_path):
    root = _tree(tmp_path)
    mkinitrd.build(_spec(tmp_path, root, compression="gzip", devices=[]))
    data = gzip.decompress((tmp_path / "out" / "initrd").read_bytes())
    listing = subprocess.run(["cpio", "-t"], input=data, capture_output=True, check=True).stdout.decode()
    assert "app/sub/data.txt" in listing.split()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["entries"] == len(listing.split())


def test_symlinks_to_files_and_directories(tmp_path):
    root = _tree(tmp_path)
    os.symlink("sub/data.txt", root / "app" / "file-link")
    os.symlink("sub", root / "app" / "dir-link")
    mkinitrd.build(_spec(tmp_path, root))
    archive = (tmp_path / "out" / "initrd").read_bytes()
    modes = {n: m for n, m, _, _ in _names(archive)}
    assert modes["app/file-link"] == 0o120777
    assert modes["app/dir-link"] == 0o120777
    assert b"sub/data.txt" in archive
    # A symlinked directory is written as the link only, not followed.
    assert "app/dir-link/data.txt" not in modes
