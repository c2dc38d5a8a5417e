from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from unikernel_rules.containers import oci

CONFIG = {"Entrypoint": ["/app/hello"], "Cmd": ["--port", "8080"], "Env": ["A=1"], "WorkingDir": "/app", "User": "1000:1000"}


def make_tree(root: Path, mtime: int) -> None:
    (root / "app").mkdir(parents=True)
    (root / "app" / "hello").write_bytes(b"\x7fELF...")
    (root / "app" / "hello").chmod(0o700)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0::/:/bin/false\n")
    (root / "etc" / "passwd").chmod(0o600)
    (root / "usr" / "lib").mkdir(parents=True)
    os.symlink("usr/lib", root / "lib")
    (root / "empty").mkdir()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)


def build(tmp: Path, name: str, mtime: int) -> tuple:
    root = tmp / name / "root"
    make_tree(root, mtime)
    spec = {
        "root": str(root),
        "output": str(tmp / name / "out" / "container.tar"),
        "report": str(tmp / name / "out" / "report.json"),
        "dirs": [
            {"path": "tmp", "mode": 0o1777},
            {"path": "proc", "mode": 0o555},
            {"path": "/app", "mode": 0o755, "uid": 1000, "gid": 1001},
            {"path": "var/lib/app", "mode": 0o755, "uid": 1000, "gid": 1001},
        ],
        "files": [{"path": "etc/passwd", "uid": 107, "gid": 107}],
        "config": CONFIG,
        "annotations": {"dev.unikernel-rules.runtime": "c"},
        "repo_tag": "testprojects/c/hello/image:latest",
    }
    report = oci.build(spec)
    return Path(spec["output"]).read_bytes(), report


def members(data: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def test_reproducible_whatever_the_tree_times_and_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        a, report_a = build(tmp_path, "a", 1_700_000_000)
    finally:
        os.umask(old)
    b, report_b = build(tmp_path, "b", 86_400)
    assert a == b
    assert report_a == report_b
    assert not any(p.name.startswith("container.tar.") for p in (tmp_path / "a" / "out").iterdir())


def test_oci_layout_and_docker_archive_agree(tmp_path: Path) -> None:
    data, report = build(tmp_path, "a", 0)
    files = members(data)
    assert json.loads(files["oci-layout"][1]) == {"imageLayoutVersion": "1.0.0"}
    for name, (info, _) in files.items():
        assert info.mtime == 0 and info.uid == 0 and info.gid == 0 and info.uname == "", name
    index = json.loads(files["index.json"][1])
    (entry,) = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    manifest_bytes = files["blobs/sha256/" + entry["digest"].split(":")[1]][1]
    assert hashlib.sha256(manifest_bytes).hexdigest() == entry["digest"].split(":")[1]
    assert len(manifest_bytes) == entry["size"] and entry["digest"] == report["manifest_digest"]
    manifest = json.loads(manifest_bytes)
    config_bytes = files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]][1]
    config = json.loads(config_bytes)
    assert config["config"] == CONFIG and config["os"] == "linux" and config["architecture"] == "amd64"
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == oci.LAYER_MEDIA_TYPE
    blob = files["blobs/sha256/" + layer["digest"].split(":")[1]][1]
    assert hashlib.sha256(blob).hexdigest() == layer["digest"].split(":")[1] and len(blob) == layer["size"]
    assert blob[4:8] == b"\0\0\0\0"  # gzip mtime 0
    uncompressed = gzip.decompress(blob)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(uncompressed).hexdigest()]
    (docker,) = json.loads(files["manifest.json"][1])
    assert docker["Config"] == "blobs/sha256/" + manifest["config"]["digest"].split(":")[1]
    assert docker["Layers"] == ["blobs/sha256/" + layer["digest"].split(":")[1]]
    assert docker["RepoTags"] == ["testprojects/c/hello/image:latest"]
    assert manifest["annotations"] == {"dev.unikernel-rules.runtime": "c"}


def test_layer_entries_modes_and_order(tmp_path: Path) -> None:
    data, _ = build(tmp_path, "a", 12345)
    files = members(data)
    manifest = json.loads(files["manifest.json"][1])[0]
    blob = files[manifest["Layers"][0]][1]
    entries = members(gzip.decompress(blob))
    names = list(entries)
    assert names == sorted(names)
    assert names == [
        "app", "app/hello", "empty", "etc", "etc/passwd", "lib", "proc", "tmp", "usr", "usr/lib",
        "var", "var/lib", "var/lib/app",
    ]
    mode = {n: entries[n][0].mode for n in names}
    assert mode["app/hello"] == 0o755 and mode["etc/passwd"] == 0o644 and mode["app"] == 0o755
    assert mode["tmp"] == 0o1777 and mode["proc"] == 0o555
    assert entries["lib"][0].issym() and entries["lib"][0].linkname == "usr/lib"
    assert entries["app/hello"][1] == b"\x7fELF..."
    owned = {"app", "var/lib/app"}  # the app user's working directory and writable path
    assert all((entries[n][0].uid, entries[n][0].gid) == (1000, 1001) for n in owned)
    assert (entries["etc/passwd"][0].uid, entries["etc/passwd"][0].gid) == (107, 107)
    owned.add("etc/passwd")
    assert all(entries[n][0].mtime == 0 and entries[n][0].uid == 0 for n in names if n not in owned)


def test_special_files_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.mkfifo(root / "fifo")
    with pytest.raises(SystemExit, match="UNIKERNEL_CONTAINER_ERROR fifo"):
        oci.build(
            {"root": str(root), "output": str(tmp_path / "out.tar"), "config": {}, "repo_tag": "a/b:latest"}
        )
