"""The comparison logic of build-support/verify_reproducible.py (no Pants run)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pants_repo import build_support_module

verify = build_support_module("verify_reproducible")


def _bundle(dist: Path, name: str, files: dict, **extra) -> None:
    d = dist / name
    d.mkdir(parents=True)
    manifest = {"files": {k: {"sha256": v, "size": 1} for k, v in files.items()}, **extra}
    (d / "manifest.json").write_text(json.dumps(manifest))


def test_identical(tmp_path) -> None:
    for side in ("a", "b"):
        _bundle(tmp_path / side, "p.c/image", {"kernel": "k1", "initrd": "i1"}, memory_mib=64)
        _bundle(tmp_path / side, "p.py/image", {"rootfs.img": "r1"})
    assert verify.compare_dists(tmp_path / "a", tmp_path / "b") == []


def test_sha_mismatch_and_missing_files(tmp_path) -> None:
    _bundle(tmp_path / "a", "p.c/image", {"kernel": "k1", "initrd": "i1"})
    _bundle(tmp_path / "b", "p.c/image", {"kernel": "k1", "initrd": "i2", "extra": "e"})
    _bundle(tmp_path / "a", "only/a", {"kernel": "k"})
    problems = verify.compare_dists(tmp_path / "a", tmp_path / "b")
    assert problems == [
        "only/a: only in the first build",
        "p.c/image/extra: only in the second build",
        "p.c/image/initrd: sha256 i1 (1 bytes) != i2 (1 bytes)",
    ]
    assert verify.differing_files(problems) == ["p.c/image/initrd"]


def test_manifest_fields_differ(tmp_path) -> None:
    _bundle(tmp_path / "a", "x/image", {"kernel": "k"}, memory_needed_mib=17)
    _bundle(tmp_path / "b", "x/image", {"kernel": "k"}, memory_needed_mib=18)
    assert verify.compare_dists(tmp_path / "a", tmp_path / "b") == [
        "x/image/manifest.json: differs in memory_needed_mib"
    ]


def test_no_bundles(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert "no bundles" in verify.compare_dists(tmp_path / "a", tmp_path / "b")[0]


def test_main_with_a_fake_pants(tmp_path) -> None:
    """The whole script, with a stand-in for ./pants that writes one bundle per call."""
    counter = tmp_path / "n"
    fake = tmp_path / "pants"
    fake.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case "$a" in --pants-distdir=*) d="${a#--pants-distdir=}";; esac; done\n'
        f'n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}\n'
        'mkdir -p "$d/t/image"\n'
        'echo "{\\"files\\": {\\"kernel\\": {\\"sha256\\": \\"$SHA$n\\", \\"size\\": 1}}}" > "$d/t/image/manifest.json"\n'
    )
    fake.chmod(0o755)
    os.environ["SHA"] = "same"
    # The fake's sha includes the call number: two calls differ, so the check fails...
    assert verify.main(["--pants", str(fake), "t:image"]) == 1
    # ...and with a constant sha it passes.
    fake.write_text(fake.read_text().replace("$SHA$n", "$SHA"))
    assert verify.main(["--pants", str(fake), "t:image"]) == 0
