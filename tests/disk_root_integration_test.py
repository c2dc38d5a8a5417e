"""A disk root: the app's files on a read-only squashfs (rootfs.img) under a tmpfs overlay."""

from __future__ import annotations

import json
import shutil

from typing import Iterator

import pytest

from pants_repo import RepoCopy
from unikernel_rules.qemu import launcher

IMAGE = "testprojects/c/disk_hello:image"
BUNDLE = "testprojects.c.disk_hello/image"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("disk-root") / "repo")
    yield repo
    repo.cleanup()


@pytest.fixture(scope="module")
def bundle(repo: RepoCopy):
    repo.run("package", IMAGE).assert_success()
    return repo.bundle(BUNDLE)


def test_bundle_and_manifest(bundle) -> None:
    # The bundle, and the bootable disks this example also builds (disk_formats_integration_test).
    assert sorted(p.name for p in bundle.iterdir()) == [
        "cmdline", "disk.qcow2", "disk.raw", "disk.tar.gz", "disk.vhd", "disk.vmdk", "initrd",
        "kernel", "manifest.json", "rootfs.img", "sbom.spdx.json"
    ]
    manifest = json.loads((bundle / "manifest.json").read_text())
    root = manifest["root"]
    assert root["kind"] == "disk"
    assert root["fstype"] == "squashfs"
    assert root["device"] == "/dev/vda"
    # The program, data/message.txt and the guest's /etc (hostname, hosts, passwd, group,
    # nsswitch.conf, resolv.conf: docs/guest.md).
    assert root["files"] == 8
    assert manifest["files"]["rootfs.img"]["size"] == (bundle / "rootfs.img").stat().st_size
    assert (bundle / "rootfs.img").read_bytes()[:4] == b"hsqs"  # squashfs magic
    # The initramfs holds only init and its config: the app is on the disk.
    assert manifest["initrd"]["entries"] < 12
    assert manifest["initrd"]["unpacked_bytes"] < 64 * 1024


def test_runs_from_disk_and_writes(repo: RepoCopy, bundle) -> None:
    result = repo.run("run", IMAGE)
    out = result.stdout
    assert result.exit_code == 0, out + result.stderr
    assert "ROOT_FS overlay" in out
    assert "CWD /app" in out
    assert "DATA present" in out
    for path in ("written.txt", "/tmp/scratch.txt", "/app/testprojects/c/disk_hello/data/new.txt",
                 "/etc/new.conf"):
        assert f"WROTE {path}" in out, out


def test_exit_status_propagates(repo: RepoCopy, bundle) -> None:
    result = repo.run("run", IMAGE, "--", "7")
    assert result.exit_code == 7, result.stdout + result.stderr
    assert "UNIKERNEL_EXIT" not in result.stdout  # the app's own output only (virtio console)


def test_missing_disk_gives_inits_message(bundle, tmp_path) -> None:
    # A copy of the bundle whose manifest does not list rootfs.img: the launcher attaches no disk.
    copy = tmp_path / "no-disk"
    shutil.copytree(bundle, copy)
    (copy / "rootfs.img").unlink()
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["rootfs.img"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = launcher.boot(str(copy), accel="tcg", timeout=120, quiet=True, no_ports=True)
    assert result.app_exit == 125, result.output
    assert "the image's rootfs.img was not attached" in result.output
    assert "pants run" in result.output


def test_wrong_disk_gives_inits_message(bundle, tmp_path) -> None:
    copy = tmp_path / "wrong-disk"
    shutil.copytree(bundle, copy)
    (copy / "rootfs.img").write_bytes(b"\0" * 65536)  # attached, but not a squashfs
    result = launcher.boot(str(copy), accel="tcg", timeout=120, quiet=True, no_ports=True)
    assert result.app_exit == 125, result.output
    assert "cannot mount the disk root /dev/vda as squashfs" in result.output


def test_c_runtime_keeps_the_initramfs(repo: RepoCopy) -> None:
    repo.run("package", "testprojects/c/hello_http:image").assert_success()
    bundle = repo.bundle("testprojects.c.hello_http/image")
    assert not (bundle / "rootfs.img").exists()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["root"] == {"kind": "initramfs"}
    # Without a disk root the kernel has no `disk` fragment (it would cost 2 MiB of floor).
    assert manifest["kernel"]["fragments"] == ["builtin:base", "builtin:virtio", "builtin:net"]


def test_disk_root_kernel_has_the_disk_fragment(bundle) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    fragments = manifest["kernel"]["fragments"]
    assert "builtin:disk" in fragments, fragments
    # disk_hello lists disk formats, so its kernel also boots through firmware (EFI stub, ACPI).
    assert fragments[-1] == "builtin:efi", fragments
