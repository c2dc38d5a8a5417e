from __future__ import annotations

import gzip
import struct
import tarfile
import uuid

import pytest

from unikernel_rules.formats import mkformat


def _footer(timestamp: int, disk_uuid: bytes) -> bytearray:
    footer = bytearray(512)
    footer[0:8] = b"conectix"
    footer[24:28] = struct.pack(">I", timestamp)
    footer[68:84] = disk_uuid
    footer[64:68] = struct.pack(">I", mkformat.vhd_checksum(footer))
    return footer


def test_vhd_checksum_is_the_specs_ones_complement_sum() -> None:
    footer = bytearray(512)
    footer[0] = 1
    footer[100] = 2
    footer[65] = 0xFF  # inside the checksum field: not counted
    assert mkformat.vhd_checksum(footer) == (~3) & 0xFFFFFFFF


def test_vhd_footer_pinning_makes_two_footers_equal(tmp_path) -> None:
    want = "0d3b2a1e-6a4b-5c2d-9e8f-0123456789ab"
    paths = []
    for stamp, random_uuid in ((123456, uuid.uuid4().bytes), (987654, uuid.uuid4().bytes)):
        path = tmp_path / f"{stamp}.vhd"
        path.write_bytes(b"\xaa" * 4096 + bytes(_footer(stamp, random_uuid)))
        mkformat.pin_vhd_footer(str(path), want)
        paths.append(path)
    a, b = (p.read_bytes() for p in paths)
    assert a == b
    footer = a[-512:]
    assert footer[24:28] == b"\0\0\0\0"
    assert footer[68:84] == uuid.UUID(want).bytes
    assert struct.unpack(">I", footer[64:68])[0] == mkformat.vhd_checksum(bytearray(footer))
    assert a[:4096] == b"\xaa" * 4096


def _vmdk(text: bytes, desc_sectors: int = 2, tail: bytes = b"") -> bytes:
    """A VMDK head: the 512-byte header (magic, descriptorOffset 1, descriptorSize), then the
    descriptor sectors: `text`, a NUL, `tail`, zeros."""
    header = bytearray(512)
    header[:4] = b"KDMV"
    struct.pack_into("<QQ", header, 28, 1, desc_sectors)
    desc = text + b"\0" + tail
    return bytes(header) + desc + bytes(desc_sectors * 512 - len(desc)) + b"GRAIN"


def test_vmdk_cid_is_replaced_in_place(tmp_path) -> None:
    text = b"# Disk DescriptorFile\nversion=1\nCID=1f2e3d4c\nparentCID=ffffffff\n"
    path = tmp_path / "disk.vmdk"
    path.write_bytes(_vmdk(text))
    mkformat.pin_vmdk_cid(str(path), "0badcafe")
    assert path.read_bytes() == _vmdk(text.replace(b"1f2e3d4c", b"0badcafe"))


def test_vmdk_cid_shorter_than_8_digits(tmp_path) -> None:
    # qemu-img prints its random CID with %x (0x00a8d00b is "CID=a8d00b") and can leave a stray
    # byte after the shorter text's NUL: the result is what an 8-digit CID gives.
    text = b"# Disk DescriptorFile\nversion=1\nCID=a8d00b\nparentCID=ffffffff\ncreateType=\"streamOptimized\"\n"
    path = tmp_path / "disk.vmdk"
    path.write_bytes(_vmdk(text, tail=b"\n"))
    mkformat.pin_vmdk_cid(str(path), "0badcafe")
    assert path.read_bytes() == _vmdk(text.replace(b"CID=a8d00b", b"CID=0badcafe"))
    full = tmp_path / "full.vmdk"
    full.write_bytes(_vmdk(b"CID=1\n".rjust(1021, b"#").replace(b"#CID", b"\nCID"), desc_sectors=2))
    with pytest.raises(mkformat.FormatError, match="no room"):
        mkformat.pin_vmdk_cid(str(full), "0badcafe")


def test_gce_tarball_is_reproducible_and_padded_to_whole_gib(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(mkformat, "GIB", 1024 * 1024)  # a small "GiB" keeps the test fast
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\x55" * 1536 * 1024)
    outs = []
    for name in ("a.tar.gz", "b.tar.gz"):
        mkformat.write_gce(str(raw), str(tmp_path / name), "disk.raw")
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    assert outs[0][4:8] == b"\0\0\0\0"  # gzip MTIME
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        (member,) = tar.getmembers()
        assert (member.name, member.size, member.mtime, member.uid, member.mode) == ("disk.raw", 2 * 1024 * 1024, 0, 0, 0o644)
        data = tar.extractfile(member).read()
    assert data == b"\x55" * 1536 * 1024 + bytes(512 * 1024)
    with gzip.open(tmp_path / "a.tar.gz") as gz:
        assert gz.read(512)[257:263] == b"ustar "  # GNU format magic

