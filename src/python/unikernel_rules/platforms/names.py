"""The platforms `unikernel_image(platform=...)` can target (stdlib only).

A platform is where the image runs: it picks the kernel's device drivers (a builtin fragment
`platform-<name>`, one cached kernel per platform shared by all its images), which disk formats
that platform boots, how the guest gets its address, and which QEMU devices stand in for the
platform's own when `pants run` boots the image here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

QEMU = "qemu"


@dataclass(frozen=True)
class Platform:
    name: str
    summary: str
    # Disk formats the platform boots (`bundle` is always allowed: QEMU direct boot).
    formats: Tuple[str, ...]
    # The builtin kernel fragment with the platform's drivers; None: the kernel as today.
    fragment: Optional[str]
    # QEMU device models `pants run` boots it with: the disk controller and the NIC. They are
    # the platform's own devices where QEMU emulates them, else virtio stand-ins (`emulated`).
    qemu_disk: str
    qemu_nic: str
    # True: qemu_disk/qemu_nic are the devices the platform itself gives a VM (boot-tested as
    # such); False: the platform's devices cannot be emulated (Hyper-V's vmbus, AWS's ENA).
    disk_emulated: bool
    nic_emulated: bool
    # The guest's address: "static" (QEMU's user network, 10.0.2.15) or "dhcp" (the kernel's
    # IP autoconfiguration, `ip=dhcp`: what every cloud's network hands out).
    address: str
    # The drivers, as docs/platforms.md and the help text list them.
    drivers: str

    @property
    def bundle_root_device(self) -> str:
        """Where a direct boot (the bundle) finds rootfs.img: the first disk on qemu_disk."""
        return BUNDLE_ROOT_DEVICES[self.qemu_disk]


PLATFORMS: Tuple[Platform, ...] = (
    Platform(
        QEMU, "QEMU/KVM, Firecracker-style VMMs, cloud-hypervisor (virtio)",
        formats=("raw", "qcow2", "vmdk", "vhd", "gce"), fragment=None,
        qemu_disk="virtio-blk", qemu_nic="virtio-net", disk_emulated=True, nic_emulated=True,
        address="static", drivers="virtio-blk, virtio-net, virtio-rng, virtio-console",
    ),
    Platform(
        "gce", "Google Compute Engine",
        formats=("gce",), fragment="platform-gce",
        qemu_disk="virtio-scsi", qemu_nic="virtio-net", disk_emulated=True, nic_emulated=True,
        address="dhcp", drivers="virtio-scsi, NVMe, virtio-net, gVNIC (gve)",
    ),
    Platform(
        "aws", "Amazon EC2 (Nitro instances)",
        formats=("raw", "vmdk", "vhd"), fragment="platform-aws",
        qemu_disk="nvme", qemu_nic="virtio-net", disk_emulated=True, nic_emulated=False,
        address="dhcp", drivers="NVMe, ENA (ena)",
    ),
    Platform(
        "azure", "Microsoft Azure and Hyper-V",
        formats=("vhd",), fragment="platform-azure",
        qemu_disk="virtio-blk", qemu_nic="virtio-net", disk_emulated=False, nic_emulated=False,
        address="dhcp", drivers="Hyper-V vmbus, storvsc (hv_storvsc), netvsc (hv_netvsc)",
    ),
    Platform(
        "vmware", "VMware ESXi, vSphere, Workstation, Fusion",
        formats=("vmdk",), fragment="platform-vmware",
        qemu_disk="pvscsi", qemu_nic="vmxnet3", disk_emulated=True, nic_emulated=True,
        address="dhcp", drivers="PVSCSI (vmw_pvscsi), AHCI, IDE (ata_piix), VMXNET3",
    ),
    Platform(
        "virtualbox", "Oracle VirtualBox",
        formats=("vmdk", "vhd"), fragment="platform-virtualbox",
        qemu_disk="ahci", qemu_nic="e1000", disk_emulated=True, nic_emulated=True,
        address="dhcp", drivers="AHCI, Intel PRO/1000 (e1000)",
    ),
)
PLATFORMS_BY_NAME = {p.name: p for p in PLATFORMS}
PLATFORM_NAMES: Tuple[str, ...] = tuple(p.name for p in PLATFORMS)
# QEMU's device models for each `qemu_disk` / `qemu_nic` (the launcher's `-device` values).
QEMU_DISK_MODELS = ("virtio-blk", "virtio-scsi", "nvme", "pvscsi", "ahci")
# The kernel's name for the first disk on each (a bundle's rootfs.img; a disk's root partition
# is found by its GUID instead).
BUNDLE_ROOT_DEVICES = {
    "virtio-blk": "/dev/vda",
    "virtio-scsi": "/dev/sda",
    "pvscsi": "/dev/sda",
    "ahci": "/dev/sda",
    "nvme": "/dev/nvme0n1",
}
QEMU_NIC_MODELS = ("virtio-net", "vmxnet3", "e1000")
