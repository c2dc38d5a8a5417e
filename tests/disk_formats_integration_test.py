"""Bootable disks (docs/formats.md): every format of testprojects/c/disk_hello (a disk root, so
the disk has an EFI system partition and a root partition) checked as a file (GPT, MBR boot
code, VHD footer, GCE tarball, `qemu-img check`) and booted under TCG through BIOS (SeaBIOS)
and UEFI (OVMF); plus the Python example's qcow2, whose app answers HTTP.

The images are packaged once per module (the suite's `pants package testprojects::` has built
them: cached); each boot is a few seconds of TCG.
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Dict, Iterator

import pytest

from disk_checks import assert_fixed_vhd
from pants_repo import RepoCopy
from unikernel_rules.qemu import launcher

DISK_IMAGE = "testprojects/c/disk_hello:image"
DISK_BUNDLE = "testprojects.c.disk_hello/image"
PY_IMAGE = "testprojects/python/hello_http:image"
PY_BUNDLE = "testprojects.python.hello_http/image"
FILES = {"raw": "disk.raw", "qcow2": "disk.qcow2", "vmdk": "disk.vmdk", "vhd": "disk.vhd", "gce": "disk.tar.gz"}
QEMU_IMG_FORMATS = {"qcow2": "qcow2", "vmdk": "vmdk", "vhd": "vpc"}
ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
LINUX_TYPE = "0fc63daf-8483-4772-8e79-3d69d8477de4"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("disk-formats") / "repo")
    yield repo
    repo.cleanup()


@pytest.fixture(scope="module")
def disk_bundle(repo: RepoCopy) -> Path:
    repo.run("package", DISK_IMAGE).assert_success()
    return repo.bundle(DISK_BUNDLE)


def gpt_partitions(disk: bytes) -> Dict[int, dict]:
    header = disk[512:1024]
    assert header[:8] == b"EFI PART"
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    parts = {}
    for i in range(count):
        entry = disk[entries_lba * 512 + i * size : entries_lba * 512 + (i + 1) * size]
        if entry[:16] == bytes(16):
            continue
        first, last, attrs = struct.unpack_from("<QQQ", entry, 32)
        parts[i + 1] = {
            "type": str(uuid.UUID(bytes_le=entry[:16])),
            "guid": str(uuid.UUID(bytes_le=entry[16:32])),
            "first": first,
            "last": last,
            "attrs": attrs,
            "name": entry[56:128].decode("utf-16-le").rstrip("\0"),
        }
    return parts


def test_every_format_is_written_and_listed(disk_bundle: Path) -> None:
    manifest = json.loads((disk_bundle / "manifest.json").read_text())
    order = sorted(manifest["formats"], key=lambda name: manifest["formats"][name]["order"])
    assert order == ["bundle", "raw", "qcow2", "vmdk", "vhd", "gce"]
    for name, file in FILES.items():
        path = disk_bundle / file
        assert path.is_file(), name
        assert manifest["formats"][name]["file"] == file
        assert manifest["files"][file]["size"] == path.stat().st_size
    assert manifest["formats"]["bundle"]["files"] == ["kernel", "initrd", "cmdline", "rootfs.img"]
    assert "builtin:efi" in manifest["kernel"]["fragments"]
    assert manifest["disk"]["firmware"] == ["bios", "uefi"]


def test_raw_disk_layout(disk_bundle: Path) -> None:
    manifest = json.loads((disk_bundle / "manifest.json").read_text())
    disk = (disk_bundle / "disk.raw").read_bytes()
    assert len(disk) % MIB == 0
    # Protective MBR: one 0xEE partition, the boot signature, gptmbr.bin's code in front.
    assert disk[510:512] == b"\x55\xaa" and disk[446 + 4] == 0xEE
    assert disk[:440] != bytes(440)
    parts = gpt_partitions(disk)
    assert sorted(parts) == [1, 2]
    esp, root = parts[1], parts[2]
    assert esp["type"] == ESP_TYPE and esp["attrs"] & (1 << 2), "ESP: legacy BIOS bootable"
    assert esp["first"] % 2048 == 0 and root["first"] % 2048 == 0
    assert root["type"] == LINUX_TYPE
    assert root["guid"] == manifest["disk"]["root_partuuid"]
    # The root partition holds rootfs.img byte for byte.
    rootfs = (disk_bundle / "rootfs.img").read_bytes()
    assert disk[root["first"] * 512 : root["first"] * 512 + len(rootfs)] == rootfs
    # The ESP is FAT with the UKI and syslinux (mtools from the host, to look only).
    mdir = shutil.which("mdir")
    if mdir:
        offset = esp["first"] * 512
        listing = subprocess.run(
            [mdir, "-i", f"{disk_bundle / 'disk.raw'}@@{offset}", "-/", "-a", "-b", "::/"],
            capture_output=True, text=True, check=True,
        ).stdout
        for name in ("::/EFI/BOOT/BOOTX64.EFI", "::/kernel", "::/initrd", "::/ldlinux.sys", "::/syslinux.cfg"):
            assert name in listing, listing


def test_converted_formats_check_and_match_the_raw_disk(disk_bundle: Path) -> None:
    qemu_img = shutil.which("qemu-img")
    assert qemu_img, "qemu-img is missing: run build-support/setup-host.sh (Debian package qemu-utils)"
    raw = disk_bundle / "disk.raw"
    for name, fmt in QEMU_IMG_FORMATS.items():
        path = disk_bundle / FILES[name]
        if fmt != "vpc":  # qemu-img check does not support vpc; its footer is checked below
            subprocess.run([qemu_img, "check", "-f", fmt, str(path)], check=True, capture_output=True)
        same = subprocess.run(
            [qemu_img, "compare", "-f", fmt, "-F", "raw", str(path), str(raw)], capture_output=True, text=True
        )
        assert same.returncode == 0, f"{name}: {same.stdout}{same.stderr}"
    info = json.loads(
        subprocess.run(
            [qemu_img, "info", "--output=json", "-f", "vmdk", str(disk_bundle / "disk.vmdk")],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    assert info["format-specific"]["data"]["create-type"] == "streamOptimized"


def test_vhd_is_fixed_with_a_valid_footer(disk_bundle: Path) -> None:
    assert_fixed_vhd((disk_bundle / "disk.vhd").read_bytes(), (disk_bundle / "disk.raw").stat().st_size)


def test_gce_tarball(disk_bundle: Path) -> None:
    data = (disk_bundle / "disk.tar.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[4:8] == bytes(4)  # gzip, mtime 0
    with gzip.open(disk_bundle / "disk.tar.gz") as gz:
        assert gz.read(512)[257:263] == b"ustar "  # GNU tar
    raw = (disk_bundle / "disk.raw").read_bytes()
    with tarfile.open(disk_bundle / "disk.tar.gz") as tar:
        (member,) = tar.getmembers()
        assert member.name == "disk.raw" and member.size % (1024 * MIB) == 0 and member.mtime == 0
        head = tar.extractfile(member).read(len(raw))
    assert head == raw


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
@pytest.mark.parametrize("fmt", ["raw", "qcow2", "vmdk", "vhd", "gce"])
def test_boots_from_the_disk(disk_bundle: Path, fmt: str, firmware: str) -> None:
    result = launcher.boot(
        str(disk_bundle), accel="tcg", timeout=180, quiet=True, no_ports=True, format=fmt, firmware=firmware
    )
    assert result.app_exit == 0, result.output
    assert "ROOT_FS overlay" in result.output
    assert "WROTE /etc/new.conf" in result.output


def test_pants_run_boots_a_disk_and_refuses_app_args(repo: RepoCopy, disk_bundle: Path) -> None:
    result = repo.run("run", "--unikernel-run-format=qcow2", DISK_IMAGE)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "ROOT_FS overlay" in result.stdout
    refused = repo.run("run", "--unikernel-run-format=raw", DISK_IMAGE, "--", "7")
    assert refused.exit_code != 0
    assert "command line" in refused.stderr and "bundle" in refused.stderr, refused.stderr
    unbuilt = repo.run("run", "--unikernel-run-format=qcow2", "testprojects/c/hello_http:image")
    assert unbuilt.exit_code != 0
    assert "formats" in unbuilt.stderr, unbuilt.stderr


def test_python_disk_answers_http(repo: RepoCopy) -> None:
    repo.run("package", PY_IMAGE).assert_success()
    bundle = repo.bundle(PY_BUNDLE)
    result = launcher.boot(
        str(bundle), accel="tcg", timeout=240, quiet=True, format="qcow2", firmware="uefi",
        ready=r"READY", stop_after_ready=True, http_get="8080/",
    )
    assert result.http_status == 200, result.output


def test_unknown_format_is_a_clear_error(repo: RepoCopy) -> None:
    repo.write("testprojects/bad_formats/main.c", "int main(void) { return 0; }\n")
    repo.write(
        "testprojects/bad_formats/BUILD",
        'c_program(name="app", sources=["main.c"])\n'
        'unikernel_image(name="image", dependencies=[":app"], formats=["bundle", "iso9660"])\n',
    )
    result = repo.run("package", "testprojects/bad_formats:image")
    assert result.exit_code != 0
    err = result.stderr
    assert "`formats` field of testprojects/bad_formats:image" in err, err
    assert "'iso9660'" in err and "bundle, raw, qcow2, vmdk, vhd, gce, container" in err, err
    assert "Traceback" not in err
