"""Checks of built disk files shared by the disk tests (no Pants, no QEMU)."""

from __future__ import annotations

import struct
from typing import Optional

MIB = 1024 * 1024


def assert_fixed_vhd(vhd: bytes, raw_size: Optional[int] = None) -> None:
    """A fixed VHD per Microsoft's VHD specification: the 512-byte footer's cookie, no dynamic
    header (data offset all ones), disk type 2, sizes equal to the data before it (a whole
    number of MiB, as Azure requires), the one's-complement checksum, and our pinned timestamp."""
    footer = vhd[-512:]
    assert footer[:8] == b"conectix"
    data_offset, = struct.unpack_from(">Q", footer, 16)
    original, current = struct.unpack_from(">QQ", footer, 40)
    disk_type, checksum = struct.unpack_from(">II", footer, 60)
    assert data_offset == 0xFFFFFFFFFFFFFFFF and disk_type == 2  # fixed
    assert original == current == len(vhd) - 512 and current % MIB == 0
    if raw_size is not None:
        assert current == raw_size
    assert checksum == (~(sum(footer[:64]) + sum(footer[68:]))) & 0xFFFFFFFF
    assert footer[24:28] == bytes(4)  # timestamp pinned
