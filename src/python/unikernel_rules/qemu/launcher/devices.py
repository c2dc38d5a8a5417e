"""The image's disk controller and NIC as QEMU devices, from the manifest's `platform`:

    "platform": {"name": "vmware", "disk": "pvscsi", "nic": "vmxnet3", "address": "dhcp"}

`qemu` (and manifests without the key: older builds) is virtio-blk and virtio-net, with two
NICs (eth0 for outbound traffic, eth1 for forwarded ports, fixed addresses: argv.py). Another
platform's image boots with that platform's controller (virtio-scsi, NVMe, PVSCSI, AHCI) and one
NIC of its model, which QEMU's user network configures over DHCP (10.0.2.15, the ports forwarded
to it). Volumes are qemu's only (the rules refuse them on other platforms).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

from .options import Bundle, LaunchError

DISK_MODELS = ("virtio-blk", "virtio-scsi", "nvme", "pvscsi", "ahci")
NIC_MODELS = ("virtio-net", "vmxnet3", "e1000")
DEFAULT_PLATFORM = {"name": "qemu", "disk": "virtio-blk", "nic": "virtio-net", "address": "static"}
# The guest's address on QEMU's user network when it asks DHCP: the first lease.
DHCP_GUEST_IP = "10.0.2.15"


def manifest_platform(bundle: Bundle) -> Dict[str, Any]:
    platform = bundle.manifest.get("platform") or DEFAULT_PLATFORM
    if (
        not isinstance(platform, dict)
        or platform.get("disk") not in DISK_MODELS
        or platform.get("nic") not in NIC_MODELS
        or platform.get("address") not in ("static", "dhcp")
    ):
        raise LaunchError(
            f"the manifest of {bundle.target} has a bad `platform` entry ({platform!r}): package "
            f"the image again with `pants package {bundle.target}`"
        )
    return platform


def check_machine(bundle: Bundle, mmio: bool) -> None:
    """QEMU's microvm has virtio-mmio only: no PCI controller or NIC of another platform."""
    platform = manifest_platform(bundle)
    others = [m for m in (platform["disk"], platform["nic"]) if not m.startswith("virtio-")]
    if mmio and others:
        raise LaunchError(
            f"{bundle.target} is built for the platform {platform['name']!r}, whose devices "
            f"({', '.join(others)}) are PCI devices, which QEMU's microvm machine has not: use the "
            "machine pc (the default) or q35"
        )


def uses_dhcp(bundle: Bundle) -> bool:
    return manifest_platform(bundle)["address"] == "dhcp"


def disk_devices(model: str, drive: str, virtio: Callable[[str], str], bootindex: bool) -> List[str]:
    """The -device values that attach the drive `drive` (its id) on a `model` controller."""
    boot = ",bootindex=0" if bootindex else ""
    if model == "virtio-blk":
        return [f"{virtio('blk')},drive={drive}{boot}"]
    if model == "nvme":
        return [f"nvme,drive={drive},serial={drive}{boot}"]
    if model == "ahci":
        return [f"ahci,id={drive}-hba", f"ide-hd,drive={drive},bus={drive}-hba.0{boot}"]
    hba = virtio("scsi") if model == "virtio-scsi" else model  # pvscsi
    return [f"{hba},id={drive}-hba", f"scsi-hd,drive={drive},bus={drive}-hba.0{boot}"]


def read_only_drive(model: str) -> str:
    """How a read-only image is opened: `readonly=on`, except on AHCI (QEMU's ide-hd refuses a
    read-only drive): there the guest's writes go to a temporary overlay (`snapshot=on`)."""
    return "snapshot=on" if model == "ahci" else "readonly=on"


def nic_device(model: str, netdev: str, virtio: Callable[[str], str]) -> str:
    return f"{virtio('net')},netdev={netdev}" if model == "virtio-net" else f"{model},netdev={netdev}"


def root_disk_args(
    bundle: Bundle, image: str, qemu_format: str, drive: str, virtio: Callable[[str], str],
    escape: Callable[[str], str], bootindex: bool,
) -> Tuple[List[str], List[str]]:
    """(-drive arguments, -device values) of the image's read-only root: rootfs.img or the disk."""
    model = manifest_platform(bundle)["disk"]
    drives = ["-drive", f"file={escape(image)},if=none,id={drive},format={qemu_format},{read_only_drive(model)}"]
    return drives, disk_devices(model, drive, virtio, bootindex)
