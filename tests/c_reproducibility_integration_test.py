"""Two clean builds (`--no-local-cache`) from checkouts at different paths: identical bytes."""

from __future__ import annotations

import hashlib

from pants_repo import RepoCopy

IMAGE = "testprojects/c/hello_http:image"
BUNDLE = "testprojects.c.hello_http/image"


def _digests(repo: RepoCopy) -> dict:
    bundle = repo.bundle(BUNDLE)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(bundle.iterdir())}


def test_two_clean_builds_from_different_paths_are_identical(tmp_path) -> None:
    first = RepoCopy(tmp_path / "a" / "checkout")
    second = RepoCopy(tmp_path / "elsewhere" / "deeper" / "other-checkout")
    first.run("package", IMAGE, no_local_cache=True, extra_env={"TZ": "UTC"}).assert_success()
    second.run(
        "package", IMAGE, no_local_cache=True, extra_env={"TZ": "Asia/Kolkata", "LANG": "C"}
    ).assert_success()
    a, b = _digests(first), _digests(second)
    assert sorted(a) == ["cmdline", "initrd", "kernel", "manifest.json"]
    assert a == b
