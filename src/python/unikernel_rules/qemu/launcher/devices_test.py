"""Unit tests of devices.py: each platform's disk controller and NIC on QEMU's command line."""

from __future__ import annotations

import pytest

from unikernel_rules.qemu.launcher import LaunchError, qemu_argv
from unikernel_rules.qemu.launcher.devices import disk_devices, manifest_platform
from unikernel_rules.qemu.launcher_testutil import TCG_HOST, bundle_of, make_bundle, opt_value, opt_values, opts

VIRTIO = lambda kind: f"virtio-{kind}-pci"  # noqa: E731


def platform(name, disk, nic, address="dhcp"):
    return {"platform": {"name": name, "disk": disk, "nic": nic, "address": address}}


def test_older_manifests_are_qemu() -> None:
    assert manifest_platform(make_bundle())["disk"] == "virtio-blk"


def test_bad_platform_entry() -> None:
    with pytest.raises(LaunchError, match="bad `platform` entry.*pants package"):
        manifest_platform(make_bundle(platform("x", "floppy", "e1000")))


@pytest.mark.parametrize(
    "model, expected",
    [
        ("virtio-blk", ["virtio-blk-pci,drive=d,bootindex=0"]),
        ("virtio-scsi", ["virtio-scsi-pci,id=d-hba", "scsi-hd,drive=d,bus=d-hba.0,bootindex=0"]),
        ("pvscsi", ["pvscsi,id=d-hba", "scsi-hd,drive=d,bus=d-hba.0,bootindex=0"]),
        ("nvme", ["nvme,drive=d,serial=d,bootindex=0"]),
        ("ahci", ["ahci,id=d-hba", "ide-hd,drive=d,bus=d-hba.0,bootindex=0"]),
    ],
)
def test_disk_controllers(model, expected) -> None:
    assert disk_devices(model, "d", VIRTIO, bootindex=True) == expected


def test_a_platform_bundle_boots_its_rootfs_on_the_platform_controller_and_one_dhcp_nic() -> None:
    files = {"kernel": {}, "initrd": {}, "cmdline": {}, "rootfs.img": {}}
    bundle = make_bundle({"network": "isolated", "files": files, **platform("virtualbox", "ahci", "e1000")})
    argv = qemu_argv(bundle, opts(accel="tcg"), TCG_HOST)
    devices = opt_values(argv, "-device")
    assert "e1000,netdev=net0" in devices and not any(d.startswith("virtio-net") for d in devices)
    (netdev,) = opt_values(argv, "-netdev")
    assert netdev == "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:8080"
    assert "ahci,id=root-hba" in devices and "ide-hd,drive=root,bus=root-hba.0" in devices
    (drive,) = [d for d in opt_values(argv, "-drive") if "id=root" in d]
    assert drive.endswith("snapshot=on")  # ide-hd cannot take a read-only drive


def test_a_platform_disk_boots_on_its_controller(tmp_path) -> None:
    bundle = bundle_of(tmp_path, ("vmdk",), platform("vmware", "pvscsi", "vmxnet3"))
    argv = qemu_argv(bundle, opts(accel="tcg", format="vmdk", firmware="bios", work_dir=str(tmp_path)), TCG_HOST)
    devices = opt_values(argv, "-device")
    assert "pvscsi,id=disk-hba" in devices and "scsi-hd,drive=disk,bus=disk-hba.0,bootindex=0" in devices
    assert "vmxnet3,netdev=net0" in devices
    (drive,) = [d for d in opt_values(argv, "-drive") if "id=disk" in d]
    assert "format=vmdk" in drive and drive.endswith("readonly=on")


def test_qemu_platform_keeps_two_virtio_nics() -> None:
    bundle = make_bundle({"network": "isolated", **platform("qemu", "virtio-blk", "virtio-net", "static")})
    argv = qemu_argv(bundle, opts(accel="tcg"), TCG_HOST)
    assert [d for d in opt_values(argv, "-device") if d.startswith("virtio-net")] == [
        "virtio-net-pci,netdev=net0", "virtio-net-pci,netdev=net1"]


def test_microvm_has_no_pci_devices_of_other_platforms() -> None:
    bundle = make_bundle(platform("vmware", "pvscsi", "vmxnet3"))
    with pytest.raises(LaunchError, match="pvscsi, vmxnet3.*microvm"):
        qemu_argv(bundle, opts(accel="tcg", machine="microvm"), TCG_HOST)


def test_a_direct_boot_under_pc_turns_acpi_off_for_kernels_that_have_it(tmp_path) -> None:
    efi = {"kernel": {"fragments": ["builtin:base", "builtin:disk", "builtin:efi"]}}
    append = lambda argv: opt_value(argv, "-append").split()  # noqa: E731
    assert "acpi=off" in append(qemu_argv(make_bundle(efi), opts(accel="tcg"), TCG_HOST))
    # Not for a kernel without ACPI, another machine, or when the user says acpi=... already.
    assert "acpi=off" not in append(qemu_argv(make_bundle(), opts(accel="tcg"), TCG_HOST))
    assert "acpi=off" not in append(qemu_argv(make_bundle(efi), opts(accel="tcg", machine="q35"), TCG_HOST))
    params = append(qemu_argv(make_bundle(efi), opts(accel="tcg", kernel_params=["acpi=force"]), TCG_HOST))
    assert "acpi=force" in params and "acpi=off" not in params
    # A disk boot's command line is the disk's own (UEFI needs ACPI).
    disk = bundle_of(tmp_path, ("raw",), efi)
    argv = qemu_argv(disk, opts(accel="tcg", format="raw", firmware="bios", work_dir=str(tmp_path)), TCG_HOST)
    assert "-append" not in argv


def test_the_launcher_knows_every_platforms_devices() -> None:
    # The launcher runs on its own (qemu/rules.py ships only its package): its lists are copies.
    from unikernel_rules.platforms.names import PLATFORMS, QEMU_DISK_MODELS, QEMU_NIC_MODELS
    from unikernel_rules.qemu.launcher.devices import DISK_MODELS, NIC_MODELS

    assert DISK_MODELS == QEMU_DISK_MODELS and NIC_MODELS == QEMU_NIC_MODELS
    for p in PLATFORMS:
        assert p.qemu_disk in DISK_MODELS and p.qemu_nic in NIC_MODELS
