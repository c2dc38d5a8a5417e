"""Unit tests of volumes.py: volume files are created sparse, formatted once, kept, wiped."""

from __future__ import annotations

import os
import shutil
import struct
import sys

import pytest

from unikernel_rules.qemu.launcher import LaunchError, LaunchOptions, mke2fs_argv, prepare_volumes
from unikernel_rules.qemu.launcher_testutil import make_bundle

VOLUME = {"path": "/var/lib/app", "size_mib": 16, "serial": "vol0", "fstype": "ext4", "uid": 1000, "gid": 1000}
HOST_MKE2FS = shutil.which("mke2fs") or shutil.which("mke2fs", path="/sbin:/usr/sbin")


def test_mke2fs_argv():
    opts = LaunchOptions(mke2fs=["/t/ld.so", "--library-path", "/t/lib", "/t/sbin/mke2fs"])
    assert mke2fs_argv(opts, VOLUME, "/s/vol0.img") == [
        "/t/ld.so", "--library-path", "/t/lib", "/t/sbin/mke2fs",
        "-t", "ext4", "-F", "-q", "-E", "root_owner=1000:1000", "-L", "vol0", "/s/vol0.img",
    ]


def fake_mke2fs(tmp_path, status=0):
    """A stand-in that records its argv and writes an ext4 magic number (or fails)."""
    script = tmp_path / "mke2fs"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "open(os.environ['FAKE_LOG'], 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"if {status}:\n    print('mke2fs: no space'); sys.exit({status})\n"
        "with open(sys.argv[-1], 'r+b') as f:\n    f.seek(1080); f.write(b'\\x53\\xef')\n"
    )
    script.chmod(0o755)
    return str(script)


def test_created_once_then_kept_then_wiped(tmp_path, monkeypatch):
    log = tmp_path / "calls"
    monkeypatch.setenv("FAKE_LOG", str(log))
    opts = LaunchOptions(volumes_dir=str(tmp_path / "state" / "a" / "img"), mke2fs=[fake_mke2fs(tmp_path)])
    bundle = make_bundle({"volumes": [VOLUME]})
    done = prepare_volumes(bundle, opts)
    path = tmp_path / "state" / "a" / "img" / "vol0.img"
    assert done == [f"created the volume /var/lib/app: {path} (16 MiB, ext4)"]
    assert path.stat().st_size == 16 << 20
    assert path.stat().st_blocks * 512 < 1 << 20  # sparse
    assert log.read_text().count("\n") == 1
    assert log.read_text().endswith(f"-L vol0 {path}.new\n")  # formatted before it gets its name
    # A second run keeps it (and what the app wrote).
    with open(path, "r+b") as f:
        f.seek(4096)
        f.write(b"app data")
    assert prepare_volumes(bundle, opts) == []
    assert b"app data" in path.read_bytes()[4096:4200]
    assert log.read_text().count("\n") == 1
    # Wiping starts over.
    done = prepare_volumes(bundle, LaunchOptions(**{**opts.__dict__, "wipe_volumes": True}))
    assert done[0].startswith("wiped the volume /var/lib/app") and done[1].startswith("created")
    assert b"app data" not in path.read_bytes()


def test_failed_format_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls"))
    opts = LaunchOptions(volumes_dir=str(tmp_path / "s"), mke2fs=[fake_mke2fs(tmp_path, status=1)])
    with pytest.raises(LaunchError, match="mke2fs failed .* /var/lib/app .*no space"):
        prepare_volumes(make_bundle({"volumes": [VOLUME]}), opts)
    assert os.listdir(tmp_path / "s") == []


def test_bigger_volume_asked_for_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls"))
    opts = LaunchOptions(volumes_dir=str(tmp_path / "s"), mke2fs=[fake_mke2fs(tmp_path)], run_command="pants run a:img")
    prepare_volumes(make_bundle({"volumes": [VOLUME]}), opts)
    done = prepare_volumes(make_bundle({"volumes": [dict(VOLUME, size_mib=32)]}), opts)
    assert done == [
        f"the volume /var/lib/app ({tmp_path}/s/vol0.img) is 16 MiB, the image asks for 32 MiB: wipe it "
        "to get the new size (`pants run --unikernel-run-wipe-volumes a:img`)"
    ]


@pytest.mark.skipif(HOST_MKE2FS is None, reason="no mke2fs on this host to check a real format")
def test_real_mke2fs_makes_ext4_owned_by_the_app(tmp_path):
    opts = LaunchOptions(volumes_dir=str(tmp_path), mke2fs=[HOST_MKE2FS])
    prepare_volumes(make_bundle({"volumes": [VOLUME]}), opts)
    raw = (tmp_path / "vol0.img").read_bytes()[1024:2048]  # the ext4 superblock
    assert struct.unpack_from("<H", raw, 56)[0] == 0xEF53
    assert raw[120:124] == b"vol0"  # s_volume_name
    assert (tmp_path / "vol0.img").stat().st_blocks * 512 < (16 << 20)  # still sparse
