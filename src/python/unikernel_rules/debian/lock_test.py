from __future__ import annotations

import json

import pytest

from unikernel_rules.debian.lock import (
    DebianLockError,
    closure,
    deb_file_name,
    inputs_sha256,
    lock_from_generated,
    parse_lock,
    render_lock,
    upstream_version,
)
from unikernel_rules.debian.rules import debian_binary_argv

GENERATED = {
    "a": {"architecture": "amd64", "depends": ["c", "b"], "filename": "pool/main/a/a_1_amd64.deb",
          "sha256": "1" * 64, "size": 1, "suite": "bookworm", "version": "1:1.0-1"},
    "b": {"architecture": "all", "depends": [], "filename": "pool/main/b/b_2_all.deb",
          "sha256": "2" * 64, "size": 2, "suite": "bookworm", "version": "2"},
    "c": {"architecture": "amd64", "depends": ["b"], "filename": "pool/main/c/c_3_amd64.deb",
          "sha256": "3" * 64, "size": 3, "suite": "bookworm", "version": "3"},
    "d": {"architecture": "amd64", "depends": [], "filename": "pool/main/d/d_4_amd64.deb",
          "sha256": "4" * 64, "size": 4, "suite": "bookworm", "version": "4"},
}


def make_lock():
    return lock_from_generated(
        "3rdparty/debian/debian.lock", GENERATED, requested=["d", "a"], suites=["bookworm"],
        components=["main"], architecture="amd64",
    )


def test_round_trip_and_stable_format() -> None:
    lock = make_lock()
    text = render_lock(lock)
    assert parse_lock(text, lock.path) == lock
    assert render_lock(parse_lock(text, lock.path)) == text
    data = json.loads(text)
    assert list(data) == sorted(data) and list(data)[0] == "//"
    assert "generate-lockfiles --resolve=debian" in data["//"]
    assert data["requested"] == ["a", "d"]
    assert data["packages"]["a"]["depends"] == ["b", "c"]
    assert data["inputs_sha256"] == inputs_sha256(["a", "d"], ["bookworm"], ["main"], "amd64")
    assert inputs_sha256(["a"], ["bookworm"], ["main"], "amd64") != data["inputs_sha256"]


def test_sub_closure_from_the_lock_alone() -> None:
    lock = make_lock()
    assert [p.name for p in closure(lock, ["a"], "x")] == ["a", "b", "c"]
    assert [p.name for p in closure(lock, ["c", "d"], "x")] == ["b", "c", "d"]


def test_missing_root_error() -> None:
    with pytest.raises(DebianLockError) as e:
        closure(make_lock(), ["a", "zz"], "the Python runtime of //a:image")
    msg = str(e.value)
    assert "the Python runtime of //a:image needs the Debian package zz" in msg
    assert "`[debian-lock].packages`" in msg and "pants generate-lockfiles --resolve=debian" in msg


@pytest.mark.parametrize(
    "content, why",
    [("{not json", "not valid JSON"), ("[]", "not a JSON object"), ('{"lock_version": 1}', "missing or malformed")],
)
def test_unparsable_lock(content: str, why: str) -> None:
    with pytest.raises(DebianLockError, match=why) as e:
        parse_lock(content, "x.lock")
    assert "generate-lockfiles --resolve=debian" in str(e.value)


def test_dangling_dependency_is_rejected() -> None:
    data = json.loads(render_lock(make_lock()))
    del data["packages"]["b"]
    with pytest.raises(DebianLockError, match="depends on b, which is not in the lock"):
        parse_lock(json.dumps(data), "x.lock")


def test_names_and_versions() -> None:
    a = make_lock().get("a")
    assert a is not None
    assert deb_file_name(a) == "a_1%3a1.0-1_amd64.deb"
    assert upstream_version("6.1.176-1") == "6.1.176"
    assert upstream_version("1:4.5.1-1") == "4.5.1"
    assert upstream_version("10.0.0") == "10.0.0"


def test_debian_binary_argv() -> None:
    assert debian_binary_argv("tree", "usr/bin/mksquashfs") == (
        "tree/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "--inhibit-cache",
        "--library-path",
        "tree/lib/x86_64-linux-gnu:tree/usr/lib/x86_64-linux-gnu:tree/lib:tree/usr/lib",
        "tree/usr/bin/mksquashfs",
    )
    assert debian_binary_argv("", "/usr/bin/x")[0] == "./lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
