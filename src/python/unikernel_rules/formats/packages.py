"""The Debian packages that build disk images (stdlib only: `[debian-lock]`'s defaults use it).

Every tool of a disk build comes from the lock and runs through the tree's own loader, as the
other Debian tools do (debian/rules.py `debian_binary_argv`): nothing of the host.
"""

from __future__ import annotations

# The raw disk: GPT (sgdisk), the EFI system partition (mkfs.fat, mtools' mmd/mcopy), the BIOS
# boot path (syslinux's installer on the FAT image, gptmbr.bin and ldlinux from syslinux-common),
# the UEFI path (systemd-boot's linuxx64.efi.stub, joined to kernel + initrd + cmdline by
# binutils' objcopy, already locked for the kernel toolchain).
DISK_BUILD_PACKAGES = (
    "gdisk",
    "dosfstools",
    "mtools",
    "syslinux",
    "syslinux-common",
    "systemd-boot-efi",
    "binutils-x86-64-linux-gnu",
)
# The converted formats (qcow2, vmdk, vhd): qemu-img.
DISK_CONVERT_PACKAGES = ("qemu-utils",)

DISK_PACKAGES = (*DISK_BUILD_PACKAGES, *DISK_CONVERT_PACKAGES)
