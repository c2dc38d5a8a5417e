from __future__ import annotations

import uuid

from unikernel_rules.formats.mkdisk import syslinux_cfg
from unikernel_rules.formats.rules import derived_guid, root_partuuid


def test_guids_are_functions_of_the_inputs() -> None:
    a = derived_guid("disk", "k" * 64, "i" * 64)
    assert a == derived_guid("disk", "k" * 64, "i" * 64)
    assert a != derived_guid("esp", "k" * 64, "i" * 64)
    assert a != derived_guid("disk", "k" * 64, "j" * 64)
    assert uuid.UUID(a).version == 5


def test_root_partuuid_depends_on_rootfs_only() -> None:
    assert root_partuuid("a" * 64) == root_partuuid("a" * 64) != root_partuuid("b" * 64)
    assert root_partuuid("a" * 64) == str(uuid.UUID(root_partuuid("a" * 64)))  # lowercase, canonical


def test_syslinux_boots_the_kernel_at_once_with_the_images_cmdline() -> None:
    cfg = syslinux_cfg("console=ttyS0 panic=-1 -- --flag")
    assert "PROMPT 0\nTIMEOUT 0\n" in cfg
    assert "  LINUX /kernel\n  INITRD /initrd\n  APPEND console=ttyS0 panic=-1 -- --flag\n" in cfg


def test_fat_short_names_and_pe_sections() -> None:
    import struct

    from unikernel_rules.formats.fatlink import pe_sections, short_name

    assert short_name("BOOTX64.EFI") == b"BOOTX64 EFI"
    assert short_name("kernel") == b"KERNEL     "
    # A PE header with two sections: .linux at file offset 0x400, .initrd at 0x1200.
    pe = bytearray(0x200)
    struct.pack_into("<I", pe, 0x3C, 0x80)
    pe[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", pe, 0x80 + 6, 2)
    struct.pack_into("<H", pe, 0x80 + 20, 0xF0)
    table = 0x80 + 24 + 0xF0
    for i, (name, vsize, rsize, ptr) in enumerate(((b".linux", 0xE00, 0xE00, 0x400), (b".initrd", 0x10, 0x200, 0x1200))):
        pe[table + 40 * i : table + 40 * i + 8] = name.ljust(8, b"\0")
        struct.pack_into("<IIII", pe, table + 40 * i + 8, vsize, 0, rsize, ptr)
    assert pe_sections(bytes(pe)) == {".linux": (0x400, 0xE00, 0xE00), ".initrd": (0x1200, 0x200, 0x10)}
