"""The image formats `unikernel_image(formats=[...])` can list (stdlib only).

`bundle` is the direct-boot directory (kernel, initrd, cmdline, rootfs.img); the others are
bootable disks: `raw` is built from the bundle's pieces, every other one is converted from it;
`container` is the root tree alone, for a container engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

BUNDLE = "bundle"
RAW = "raw"
# The root tree as an OCI image / docker-archive tarball (containers/): no kernel, no firmware.
CONTAINER = "container"


@dataclass(frozen=True)
class DiskFormat:
    name: str
    file: str  # the file it is written to, in the image's output directory
    qemu_format: Optional[str]  # QEMU's -drive format= to boot it, None: unpack `member` first
    summary: str
    member: Optional[str] = None  # the raw disk's name inside an archive format


DISK_FORMATS: Tuple[DiskFormat, ...] = (
    DiskFormat(RAW, "disk.raw", "raw", "a raw GPT disk: BIOS and UEFI boot, Firecracker-style raw root, AWS import"),
    DiskFormat("qcow2", "disk.qcow2", "qcow2", "QEMU/KVM, OpenStack, KubeVirt, libvirt"),
    DiskFormat("vmdk", "disk.vmdk", "vmdk", "VMware (streamOptimized: vSphere/ESXi import, AWS import)"),
    DiskFormat("vhd", "disk.vhd", "vpc", "Azure, Hyper-V (fixed VHD, size a multiple of 1 MiB)"),
    DiskFormat("gce", "disk.tar.gz", None, "Google Compute Engine (disk.raw in a gzip'd GNU tar)", member="disk.raw"),
)
DISK_FORMATS_BY_NAME = {f.name: f for f in DISK_FORMATS}
FORMAT_NAMES: Tuple[str, ...] = (BUNDLE, *(f.name for f in DISK_FORMATS), CONTAINER)
DEFAULT_FORMATS: Tuple[str, ...] = (BUNDLE,)


def disk_formats(formats: Tuple[str, ...]) -> Tuple[DiskFormat, ...]:
    """The disk formats among `formats`, in the order they are listed."""
    return tuple(DISK_FORMATS_BY_NAME[f] for f in formats if f in DISK_FORMATS_BY_NAME)
