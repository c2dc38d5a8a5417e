"""`[debian-lock]`: which Debian packages are locked in `3rdparty/debian/debian.lock`."""

from __future__ import annotations

from pants.option.option_types import StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

from unikernel_rules.formats.packages import DISK_PACKAGES
from unikernel_rules.kernel.toolchain_packages import KERNEL_TOOLCHAIN_PACKAGES

DEBIAN_RESOLVE = "debian"

DEFAULT_ROOTS = (
    "python3.11-minimal",
    "libpython3.11-stdlib",
    "openjdk-17-jdk-headless",
    "binutils-x86-64-linux-gnu",
    "squashfs-tools",
    "linux-source-6.1",
    # mke2fs formats `pants run`'s volumes; tzdata and ca-certificates go into guests.
    "e2fsprogs",
    "tzdata",
    "ca-certificates",
    # The kernel is compiled inside a tree of these (gcc-12, binutils, make, ...): no host tools.
    *KERNEL_TOOLCHAIN_PACKAGES,
    # Bootable disk images (`formats`): sgdisk, mkfs.fat, mtools, syslinux, systemd-boot's stub,
    # qemu-img.
    *DISK_PACKAGES,
)


class DebianLockSubsystem(Subsystem):
    options_scope = "debian-lock"
    help = softwrap(
        f"""
        The Debian package lock: every Debian package that images (and the kernel build) use,
        pinned by version, sha256 and size in one lockfile. Regenerate it with
        `pants generate-lockfiles --resolve={DEBIAN_RESOLVE}` after changing these options.
        Downloads come from `[debian-archive].mirror`.
        """
    )

    packages = StrListOption(
        default=list(DEFAULT_ROOTS),
        help=softwrap(
            """
            The root packages to lock. Their dependency closure (`Depends` and `Pre-Depends`,
            recursively) is locked too; Essential and `Priority: required` packages are not
            added unless something depends on them. Add e.g. `openjdk-17-jdk-headless` or
            `libstdc++6` with `packages.add = [...]`, then re-lock.
            """
        ),
    )
    suites = StrListOption(
        default=["bookworm"],
        help=softwrap(
            """
            Archive suites (`dists/<suite>`) to read `Packages` indexes from. When a package is
            in several suites the highest version wins.
            """
        ),
    )
    components = StrListOption(
        default=["main"],
        advanced=True,
        help="Archive components (`main`, `contrib`, ...) of each suite.",
    )
    architecture = StrOption(
        default="amd64",
        help="Debian architecture of the locked packages (`Architecture: all` ones are included).",
    )
    lockfile = StrOption(
        default="3rdparty/debian/debian.lock",
        help="Path of the lockfile, relative to the build root.",
    )
