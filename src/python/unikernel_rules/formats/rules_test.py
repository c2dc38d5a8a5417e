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
