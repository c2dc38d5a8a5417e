"""Platforms (docs/platforms.md): testprojects/platforms has one image per platform, each with
its platform's kernel and disk format. Every platform QEMU can emulate boots from its disk
through SeaBIOS with that platform's own devices (gce: virtio-scsi + virtio-net; aws: NVMe, with
virtio-net standing in for ENA; vmware: PVSCSI + VMXNET3; virtualbox: AHCI + e1000), takes its
address from DHCP, and its app answers HTTP. Azure's devices (VMBus) cannot be emulated: its
kernel's config must hold the Hyper-V drivers, its VHD must be a valid fixed VHD, and it boots
with virtio stand-ins. Plus the bad inputs: a format the platform cannot boot, and a kernel
fragment that turns off a driver the platform needs.

The suite's `pants package testprojects::` has built the images (one kernel per platform,
cached); each boot is a few seconds of TCG.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, Iterator

import pytest

from disk_checks import assert_fixed_vhd
from pants_repo import RepoCopy
from unikernel_rules.qemu import launcher

IMAGES = {
    # platform: (disk format, the QEMU devices it boots with: `-device` values they start with)
    "gce": ("gce", ("virtio-scsi-pci", "scsi-hd", "virtio-net-pci")),
    "aws": ("raw", ("nvme", "virtio-net-pci")),  # virtio-net stands in for ENA
    "vmware": ("vmdk", ("pvscsi", "scsi-hd", "vmxnet3")),
    "virtualbox": ("vhd", ("ahci", "ide-hd", "e1000")),
    "azure": ("vhd", ("virtio-blk-pci", "virtio-net-pci")),  # stand-ins for VMBus storvsc/netvsc
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("platforms") / "repo")
    yield repo
    repo.cleanup()


@pytest.fixture(scope="module")
def bundles(repo: RepoCopy) -> Dict[str, Path]:
    repo.run("package", "testprojects/platforms::").assert_success()
    return {name: repo.bundle(f"testprojects.platforms/{name}") for name in IMAGES}


def vmlinux(bundle: Path) -> bytes:
    """The kernel's uncompressed image: the zstd frame inside the bzImage (KERNEL_ZSTD)."""
    data = (bundle / "kernel").read_bytes()
    start = data.find(b"\x28\xb5\x2f\xfd")
    assert start > 0, "no zstd frame in the bzImage"
    # zstd stops at the frame's end and complains about what follows it: the output is whole.
    done = subprocess.run(["zstd", "-dcq"], input=data[start:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert len(done.stdout) > len(data), done.returncode
    return done.stdout


def test_each_platform_has_its_own_kernel_and_disk(bundles: Dict[str, Path]) -> None:
    kernels = {}
    for name, (fmt, _) in IMAGES.items():
        manifest = json.loads((bundles[name] / "manifest.json").read_text())
        assert manifest["platform"]["name"] == name
        fragments = manifest["kernel"]["fragments"]
        assert fragments[-3:] == ["builtin:disk", "builtin:efi", f"builtin:platform-{name}"], fragments
        assert "ip=dhcp" in manifest["cmdline"].split()
        assert fmt in manifest["formats"] and set(manifest["formats"]) == {"bundle", fmt}
        kernels[name] = manifest["files"]["kernel"]["sha256"]
    assert len(set(kernels.values())) == len(kernels)  # one kernel per platform


def boot_disk(bundle: Path, name: str) -> launcher.BootResult:
    """Boot the image's disk through SeaBIOS with its platform's devices until `GET /` answers."""
    fmt, devices = IMAGES[name]
    result = launcher.boot(
        str(bundle), accel="tcg", timeout=240, quiet=True, format=fmt, firmware="bios",
        ready=r"READY", stop_after_ready=True, http_get="8080/",
    )
    attached = [result.argv[i + 1] for i, a in enumerate(result.argv) if a == "-device"]
    for device in devices:
        assert any(d.split(",")[0] == device for d in attached), (device, attached)
    # The root and the network can only be on those: nothing else is attached.
    disks = [d for d in attached if d.split(",")[0] in ("virtio-blk-pci", "scsi-hd", "nvme", "ide-hd")]
    nics = [d for d in attached if d.split(",")[0] in ("virtio-net-pci", "vmxnet3", "e1000")]
    assert len(disks) == 1 and len(nics) == 1, attached
    return result


@pytest.mark.parametrize("name", ["gce", "aws", "vmware", "virtualbox"])
def test_boots_with_the_platforms_devices_and_answers_http(bundles: Dict[str, Path], name: str) -> None:
    # The disk's root partition was found on the platform's controller, and the guest's only
    # NIC (the platform's model) got its address from DHCP (init configures none): HTTP answers.
    result = boot_disk(bundles[name], name)
    assert result.http_status == 200, result.output
    assert "READY" in (result.ready_line or ""), result.output


def test_azure_has_the_hyperv_drivers_and_a_fixed_vhd(bundles: Dict[str, Path]) -> None:
    bundle = bundles["azure"]
    assert_fixed_vhd((bundle / "disk.vhd").read_bytes())
    # The kernel has the VMBus, storvsc and netvsc drivers built in (their driver names), which
    # another platform's kernel has not, and the other way round.
    drivers = {"azure": (b"hv_vmbus", b"hv_storvsc", b"hv_netvsc"), "vmware": (b"vmw_pvscsi", b"vmxnet3")}
    for name, kernel in ((name, vmlinux(bundles[name])) for name in drivers):
        for owner, names in drivers.items():
            for driver in names:
                assert (driver in kernel) == (owner == name), (name, driver)
    # Not boot-tested on Hyper-V devices (QEMU has none): the VHD boots with virtio stand-ins.
    result = boot_disk(bundle, "azure")
    assert result.http_status == 200, result.output


def test_a_format_the_platform_cannot_boot(repo: RepoCopy) -> None:
    repo.write(
        "testprojects/bad_platform/BUILD",
        'unikernel_image(name="image", dependencies=["testprojects/c/hello_http:app"], root="disk",\n'
        '                platform="azure", formats=["bundle", "qcow2"])\n',
    )
    result = repo.run("package", "testprojects/bad_platform:image")
    assert result.exit_code != 0
    err = result.stderr
    assert "`formats` field of testprojects/bad_platform:image lists 'qcow2'" in err, err
    assert '"vhd"' in err and "Traceback" not in err, err


def test_a_fragment_turning_off_a_platform_driver(repo: RepoCopy) -> None:
    repo.write("testprojects/bad_kernel/small.config", "# CONFIG_VMXNET3 is not set\n")
    repo.write(
        "testprojects/bad_kernel/BUILD",
        'unikernel_kernel(name="linux", fragments=["small.config"])\n'
        'unikernel_image(name="image", dependencies=["testprojects/c/hello_http:app"], root="disk",\n'
        '                kernel=":linux", platform="vmware", formats=["bundle", "vmdk"])\n',
    )
    result = repo.run("package", "testprojects/bad_kernel:image")
    assert result.exit_code != 0
    err = result.stderr
    assert "builtin:platform-vmware" in err and "CONFIG_VMXNET3" in err, err
    assert "testprojects/bad_kernel/small.config:1 sets `# CONFIG_VMXNET3 is not set`" in err, err
    assert "`platform` needs it" in err and "Traceback" not in err, err
