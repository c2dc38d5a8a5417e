from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from unikernel_rules.containers import engine


def write_bundle(tmp_path: Path, formats: dict, **extra) -> str:
    manifest = {"target": "testprojects/c/hello_http:image", "formats": formats, "ports": [{"host": 18080, "guest": 8080}]}
    manifest.update(extra)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return str(tmp_path)


def test_an_image_without_the_container_format_names_the_field(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path, {"bundle": {"files": []}, "qcow2": {}})
    with pytest.raises(engine.EngineError) as e:
        engine.load_manifest(bundle)
    assert "testprojects/c/hello_http:image was built without the `container` format (it built bundle, qcow2)" in str(e.value)
    assert '`formats=["bundle", "container"]`' in str(e.value)


def test_a_missing_tarball_says_package_again(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path, {"container": {"file": "container.tar"}})
    with pytest.raises(engine.EngineError, match="container.tar is missing: package testprojects/c/hello_http:image again"):
        engine.load_manifest(bundle)
    (tmp_path / "container.tar").write_bytes(b"")
    manifest, entry = engine.load_manifest(bundle)
    assert entry == {"file": "container.tar"} and manifest["target"] == "testprojects/c/hello_http:image"


def test_ports_and_networks() -> None:
    manifest = {"ports": [{"host": 18080, "guest": 8080}]}
    assert engine.port_map(manifest, None) == [(18080, 8080)]
    assert engine.port_map(manifest, []) == []
    assert engine.parse_port("9000") == (9000, 9000) and engine.parse_port("1:2") == (1, 2)
    with pytest.raises(engine.EngineError):
        engine.parse_port("70000")
    mode, published, note = engine.networking("isolated", True, [(18080, 8080)])
    assert (mode, published, note) == ("bridge", {"8080/tcp": ("127.0.0.1", 18080)}, "")
    mode, published, note = engine.networking("outbound", False, [(18080, 8080)])
    assert mode == "host" and published == {} and "18080->8080" in note and "own ports" in note
    assert engine.networking("outbound", False, [(8080, 8080)])[2].endswith("shares this machine's network")
    assert engine.networking("isolated", False, []) == ("none", {}, "")
    assert engine.networking("outbound", False, [])[0] == "host"
    assert engine.networking("host", True, [(1, 2)]) == ("host", {}, "")
    assert engine.networking("none", True, [(1, 2)])[:2] == ("none", {})


def test_volumes_are_directories_owned_by_the_app_user(tmp_path: Path) -> None:
    manifest = {"volumes": [{"path": "/data", "serial": "vol-data", "uid": os.getuid(), "gid": os.getgid()}]}
    with pytest.raises(engine.EngineError):
        engine.volume_mounts(manifest, None, False)
    mounts = engine.volume_mounts(manifest, str(tmp_path), False)
    host = str(tmp_path / "container" / "vol-data")
    assert mounts == {host: {"bind": "/data", "mode": "rw"}}
    (tmp_path / "container" / "vol-data" / "kept").write_text("x")
    engine.volume_mounts(manifest, str(tmp_path), False)
    assert (tmp_path / "container" / "vol-data" / "kept").exists()
    engine.volume_mounts(manifest, str(tmp_path), True)
    assert not (tmp_path / "container" / "vol-data" / "kept").exists()
    assert engine.volume_mounts({}, None, False) == {}

