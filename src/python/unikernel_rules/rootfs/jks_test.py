from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from unikernel_rules.rootfs.jks import MAGIC, jks_trust_store, pem_certificates


def _pem(der: bytes) -> bytes:
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"


def _read(data: bytes, password: str = "changeit"):
    """Parse a JKS of trusted certificates back: [(alias, date, type, der)]."""
    body, digest = data[:-20], data[-20:]
    assert hashlib.sha1(password.encode("utf-16-be") + b"Mighty Aphrodite" + body).digest() == digest
    magic, version, count = struct.unpack_from(">III", body)
    assert (magic, version) == (MAGIC, 2)
    pos, entries = 12, []

    def utf() -> str:
        nonlocal pos
        (n,) = struct.unpack_from(">H", body, pos)
        pos += 2 + n
        return body[pos - n : pos].decode()

    for _ in range(count):
        (tag,) = struct.unpack_from(">I", body, pos)
        pos += 4
        assert tag == 2
        alias = utf()
        (date,) = struct.unpack_from(">q", body, pos)
        pos += 8
        kind = utf()
        (n,) = struct.unpack_from(">I", body, pos)
        pos += 4 + n
        entries.append((alias, date, kind, body[pos - n : pos]))
    assert pos == len(body)
    return entries


def test_pem_certificates_reads_every_block() -> None:
    pem = b"junk\n" + _pem(b"\x30\x01one") + b"between\n" + _pem(b"\x30\x02two")
    assert pem_certificates(pem) == [b"\x30\x01one", b"\x30\x02two"]
    assert pem_certificates(b"no certificate") == []


def test_trust_store_is_sorted_lowercased_dated_zero_and_signed() -> None:
    store = jks_trust_store([("local:Corp.crt", b"\x30corp"), ("debian:A.crt", b"\x30a")])
    assert _read(store) == [("debian:a.crt", 0, "X.509", b"\x30a"), ("local:corp.crt", 0, "X.509", b"\x30corp")]
    # Reproducible: the input order does not matter.
    assert store == jks_trust_store([("debian:A.crt", b"\x30a"), ("local:Corp.crt", b"\x30corp")])


def test_duplicate_aliases_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate JKS aliases"):
        jks_trust_store([("a", b"1"), ("A", b"2")])
