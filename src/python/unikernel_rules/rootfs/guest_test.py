from __future__ import annotations

from pants.engine.fs import EMPTY_FILE_DIGEST, FileContent, FileEntry, SymlinkEntry

import pytest

from unikernel_rules.rootfs.guest import (
    GuestFilesError,
    ca_bundle,
    ca_files,
    check_local_ca_certificates,
    java_trust_store,
    render_etc,
    resolve_zone,
)
from unikernel_rules.target_types.guest import GuestUser


def test_etc_files_for_the_default_user() -> None:
    files = render_etc("image", GuestUser("app", 1000, 1000), "/app", "isolated")
    assert files["etc/hostname"] == "image\n"
    assert files["etc/hosts"] == "127.0.0.1\tlocalhost\n10.0.2.15\timage\n"
    assert "app:x:1000:1000:app:/app:/sbin/nologin" in files["etc/passwd"].splitlines()
    assert files["etc/passwd"].startswith("root:x:0:0:")
    assert "app:x:1000:" in files["etc/group"].splitlines()
    assert "hosts:     files dns" in files["etc/nsswitch.conf"]
    assert files["etc/resolv.conf"] == "nameserver 10.0.2.3\n"


def test_etc_files_without_network_and_as_root() -> None:
    files = render_etc("db", GuestUser("root", 0, 0), "/app", "none")
    assert files["etc/hosts"].splitlines()[1] == "127.0.1.1\tdb"
    assert "etc/resolv.conf" not in files
    assert [line.split(":")[0] for line in files["etc/passwd"].splitlines()] == ["root", "nobody"]


def test_ca_bundle_is_sorted_and_newline_terminated() -> None:
    contents = [
        FileContent("usr/share/ca-certificates/mozilla/B.crt", b"B"),
        FileContent("usr/share/ca-certificates/mozilla/A.crt", b"A\n"),
        FileContent("usr/share/doc/ca-certificates/README", b"no"),
    ]
    assert ca_bundle(ca_files(contents)) == b"A\nB\n"


def test_local_ca_certificates_follow_debians_in_path_order() -> None:
    debian = [FileContent("usr/share/ca-certificates/mozilla/Z.crt", b"Z\n")]
    local = [
        FileContent("usr/local/share/ca-certificates/b/corp.crt", b"corp"),
        FileContent("usr/local/share/ca-certificates/a.crt", b"a\n"),
    ]
    assert ca_bundle(ca_files(debian, local)) == b"Z\na\ncorp\n"
    assert ca_bundle(ca_files([], local)) == b"a\ncorp\n"  # ca_certificates=False: only the image's own


def test_a_local_ca_file_without_a_pem_certificate_is_an_error() -> None:
    check_local_ca_certificates(
        [FileContent("usr/local/share/ca-certificates/ok.crt", b"-----BEGIN CERTIFICATE-----\nx\n")], "the image //a:b"
    )
    with pytest.raises(GuestFilesError, match=r"/usr/local/share/ca-certificates/der.crt of the image //a:b .*openssl x509"):
        check_local_ca_certificates([FileContent("usr/local/share/ca-certificates/der.crt", b"\x30\x82")], "the image //a:b")


def test_resolve_zone_follows_symlinks() -> None:
    entries = [
        FileEntry("usr/share/zoneinfo/Etc/UTC", EMPTY_FILE_DIGEST),
        SymlinkEntry("usr/share/zoneinfo/UTC", "Etc/UTC"),
        SymlinkEntry("usr/share/zoneinfo/Zulu", "/usr/share/zoneinfo/UTC"),
    ]
    assert resolve_zone(entries, "Etc/UTC") == "usr/share/zoneinfo/Etc/UTC"
    assert resolve_zone(entries, "UTC") == "usr/share/zoneinfo/Etc/UTC"
    assert resolve_zone(entries, "Zulu") == "usr/share/zoneinfo/Etc/UTC"
    assert resolve_zone(entries, "Mars/Olympus") is None


def test_java_trust_store_aliases_like_ca_certificates_java() -> None:
    import base64

    def pem(der: bytes) -> bytes:
        return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"

    files = ca_files(
        [FileContent("usr/share/ca-certificates/mozilla/Root_A.crt", pem(b"\x30a"))],
        [FileContent("usr/local/share/ca-certificates/corp/chain.crt", pem(b"\x30b") + pem(b"\x30c"))],
    )
    store = java_trust_store(files)
    for alias in (b"debian:root_a.crt", b"local:corp/chain.crt", b"local:corp/chain.crt-2"):
        assert alias in store


def test_dhcp_images_ship_no_resolv_conf_and_name_themselves_on_loopback() -> None:
    files = render_etc("cloud", GuestUser("app", 1000, 1000), "/app", "isolated", dhcp=True)
    assert "etc/resolv.conf" not in files  # init writes it from what DHCP gave
    assert files["etc/hosts"] == "127.0.0.1\tlocalhost\n127.0.1.1\tcloud\n"
