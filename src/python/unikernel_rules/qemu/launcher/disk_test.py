"""Unit tests of disk.py (1): which format boots, the firmware, OVMF, the disk's QEMU
arguments and the errors of a disk boot (no VM). Run files, failures, boot(): disk_run_test.py."""

from __future__ import annotations

import os

import pytest

from unikernel_rules.qemu import launcher
from unikernel_rules.qemu.launcher import LaunchError, LaunchOptions, qemu_argv
from unikernel_rules.qemu.launcher.disk import Ovmf, boot_format, built_formats, choose_firmware, find_ovmf
from unikernel_rules.qemu.launcher_testutil import (
    DISK, TCG_HOST, bundle_of, disk_image, fake_ovmf, make_bundle, opt_value, opt_values, opts,
)

# --- which format boots -----------------------------------------------------------------------


def test_built_formats():
    assert built_formats({}) == ["bundle"]  # older manifests: a bundle only
    assert built_formats({"formats": {"qcow2": {}, "bundle": {}}}) == ["qcow2", "bundle"]
    # manifest.json's keys are sorted: `order` keeps the `formats` field's order.
    assert built_formats({"formats": {"gce": {"order": 2}, "qcow2": {"order": 0}, "raw": {"order": 1}}}) == [
        "qcow2", "raw", "gce"
    ]


def test_boot_format_defaults_to_the_bundle_else_the_first_disk():
    assert boot_format(make_bundle(), LaunchOptions()) == "bundle"
    assert boot_format(make_bundle({"formats": {"vmdk": {}, "bundle": {}}}), LaunchOptions()) == "bundle"
    assert boot_format(make_bundle({"formats": {"vmdk": {}, "raw": {}}}), LaunchOptions()) == "vmdk"
    assert boot_format(make_bundle({"formats": {"vmdk": {}, "raw": {}}}), LaunchOptions(format="raw")) == "raw"


def test_boot_format_not_built_names_the_built_ones_and_the_field():
    bundle = make_bundle({"formats": {"bundle": {}, "raw": {}}, "target": "a/b:img"})
    with pytest.raises(LaunchError) as e:
        boot_format(bundle, LaunchOptions(format="qcow2"))
    msg = str(e.value)
    assert "a/b:img was not built as 'qcow2'" in msg and "built only bundle, raw" in msg
    assert "Add \"qcow2\" to the `formats` field" in msg
    assert "`pants run --unikernel-run-format=raw a/b:img`" in msg
    with pytest.raises(LaunchError, match="unknown image format 'iso'"):
        boot_format(bundle, LaunchOptions(format="iso"))
    # An older manifest is a bundle: asking for a disk says so.
    with pytest.raises(LaunchError, match="built only bundle"):
        boot_format(make_bundle(), LaunchOptions(format="raw"))


def test_load_bundle_of_a_disk_only_image(tmp_path):
    bundle = launcher.load_bundle(str(disk_image(tmp_path, ("qcow2",))))  # no kernel, no initrd
    assert boot_format(bundle, LaunchOptions()) == "qcow2"
    d = disk_image(tmp_path, ("bundle", "raw"), path="both")
    os.unlink(d / "kernel")
    with pytest.raises(LaunchError, match="kernel"):
        launcher.load_bundle(str(d))


# --- firmware ---------------------------------------------------------------------------------


def test_choose_firmware():
    both = make_bundle({"disk": DISK})
    assert choose_firmware(both, LaunchOptions()) == "bios"  # auto: the faster one
    assert choose_firmware(both, LaunchOptions(firmware="uefi")) == "uefi"
    assert choose_firmware(make_bundle(), LaunchOptions()) == "bios"  # no `disk` key: both
    only_uefi = make_bundle({"disk": {"firmware": ["uefi"]}, "target": "a/b:img"})
    assert choose_firmware(only_uefi, LaunchOptions()) == "uefi"
    with pytest.raises(LaunchError, match=r"boots only with uefi.*`pants run --unikernel-run-firmware=uefi a/b:img`"):
        choose_firmware(only_uefi, LaunchOptions(firmware="bios"))
    with pytest.raises(LaunchError, match="unknown firmware 'coreboot'.*auto, bios, uefi"):
        choose_firmware(both, LaunchOptions(firmware="coreboot"))


def test_find_ovmf_explicit(tmp_path):
    code = fake_ovmf(tmp_path)
    assert find_ovmf(code) == Ovmf(code, code.replace("CODE", "VARS"))
    single = fake_ovmf(tmp_path, split=False)
    assert find_ovmf(single) == Ovmf(single)
    with pytest.raises(LaunchError, match="does not exist"):
        find_ovmf(str(tmp_path / "nope.fd"))


def test_find_ovmf_searches_pflash_pairs_then_single_images(tmp_path):
    code = fake_ovmf(tmp_path)
    single = fake_ovmf(tmp_path, split=False)
    vars_path = code.replace("CODE", "VARS")
    missing = (str(tmp_path / "x_CODE.fd"), str(tmp_path / "x_VARS.fd"))
    assert find_ovmf(pflash=(missing, (code, vars_path)), single=(single,)) == Ovmf(code, vars_path)
    assert find_ovmf(pflash=(missing,), single=(str(tmp_path / "no.fd"), single)) == Ovmf(single)
    with pytest.raises(LaunchError) as e:
        find_ovmf(pflash=(missing,), single=())
    assert "`sudo apt-get install ovmf`" in str(e.value) and "--unikernel-run-firmware=bios" in str(e.value)


# --- the QEMU command line ----------------------------------------------------------------------


def test_qemu_argv_uefi_qcow2(tmp_path):
    bundle = bundle_of(tmp_path, ("bundle", "qcow2"))
    code = fake_ovmf(tmp_path)
    options = LaunchOptions(qemu="qemu", format="qcow2", firmware="uefi", ovmf=code, console="virtio",
                            console_dir="/w", work_dir="/w", no_ports=True)
    argv = qemu_argv(bundle, options, TCG_HOST)
    assert argv == [
        "qemu", "-M", "pc", "-accel", "tcg", "-cpu", "max", "-m", "128", "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
        "-drive", "if=pflash,format=raw,unit=1,file=/w/OVMF_VARS.fd",
        "-boot", "strict=on,reboot-timeout=0",
        "-chardev", "file,id=app_out,path=/w/stdout", "-chardev", "file,id=app_err,path=/w/stderr",
        "-chardev", "pipe,id=app_in,path=/w/stdin", "-chardev", "file,id=con,path=/w/console",
        "-serial", "chardev:con",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-netdev", "user,id=net0,restrict=on",
        "-drive", f"file={tmp_path}/img/disk.qcow2,if=none,id=disk,format=qcow2,readonly=on",
        "-device", "virtio-net-pci,netdev=net0", "-device", "virtio-rng-pci",
        "-device", "virtio-serial-pci,id=vser,max_ports=3",
        "-device", "virtconsole,bus=vser.0,nr=0,chardev=app_out,name=stdout",
        "-device", "virtconsole,bus=vser.0,nr=1,chardev=app_err,name=stderr",
        "-device", "virtconsole,bus=vser.0,nr=2,chardev=app_in,name=stdin",
        "-device", "virtio-blk-pci,drive=disk,bootindex=0",  # the disk: the first virtio-blk device
    ]


def test_qemu_argv_bios_raw_has_no_kernel_and_logs_seabios(tmp_path):
    bundle = bundle_of(tmp_path, ("raw",), {"ports": [{"host": 18080, "guest": 8080}]})
    argv = qemu_argv(bundle, opts(), TCG_HOST)  # auto: bios
    assert "-kernel" not in argv and "-initrd" not in argv and "-append" not in argv and "-bios" not in argv
    assert argv[argv.index("-no-reboot") + 1 :][:6] == [
        "-chardev", "file,id=fwlog,path=/w/firmware.log",
        "-device", "isa-debugcon,iobase=0x402,chardev=fwlog",
        "-boot", "strict=on,reboot-timeout=0",
    ]
    assert opt_values(argv, "-drive") == [f"file={tmp_path}/img/disk.raw,if=none,id=disk,format=raw,readonly=on"]
    assert opt_values(argv, "-device")[-1] == "virtio-blk-pci,drive=disk,bootindex=0"
    # Ports, network and the exit device as for a bundle.
    assert "hostfwd=tcp:127.0.0.1:18080-10.0.3.15:8080" in opt_values(argv, "-netdev")[1]
    assert launcher.ISA_DEBUG_EXIT_DEVICE in opt_values(argv, "-device")


def test_qemu_argv_uefi_single_image_uses_bios_flag(tmp_path):
    single = fake_ovmf(tmp_path, split=False)
    argv = qemu_argv(bundle_of(tmp_path, ("vhd",)), opts(firmware="uefi", ovmf=single), TCG_HOST)
    assert opt_value(argv, "-bios") == single
    assert not [d for d in opt_values(argv, "-drive") if "pflash" in d]
    assert opt_values(argv, "-drive") == [f"file={tmp_path}/img/disk.vhd,if=none,id=disk,format=vpc,readonly=on"]


@pytest.mark.parametrize("fmt, qemu_format", [("raw", "raw"), ("qcow2", "qcow2"), ("vmdk", "vmdk"), ("vhd", "vpc")])
def test_qemu_argv_formats(tmp_path, fmt, qemu_format):
    argv = qemu_argv(bundle_of(tmp_path, ("bundle", fmt)), opts(format=fmt), TCG_HOST)
    assert opt_values(argv, "-drive")[0].endswith(f"/disk.{fmt},if=none,id=disk,format={qemu_format},readonly=on")


def test_qemu_argv_gce_boots_the_extracted_member(tmp_path):
    argv = qemu_argv(bundle_of(tmp_path, ("gce",)), opts(work_dir="/w,x"), TCG_HOST)
    assert opt_values(argv, "-drive") == ["file=/w,,x/gce-disk.raw,if=none,id=disk,format=raw,readonly=on"]


def test_qemu_argv_disk_first_volumes_follow(tmp_path):
    volumes = [{"path": "/data", "size_mib": 8, "serial": "vol0"}]
    d = disk_image(tmp_path, ("bundle", "raw"), {"volumes": volumes, "files": {"rootfs.img": {}}})
    (d / "rootfs.img").write_bytes(b"squashfs")
    bundle = launcher.load_bundle(str(d))
    argv = qemu_argv(bundle, opts(format="raw", volumes_dir="/s"), TCG_HOST)
    # rootfs.img is inside the disk (partition 2): not attached on its own.
    assert [d.split(",")[0] for d in opt_values(argv, "-drive")] == [f"file={tmp_path}/img/disk.raw", "file=/s/vol0.img"]
    assert [d for d in opt_values(argv, "-device") if d.startswith("virtio-blk")] == [
        "virtio-blk-pci,drive=disk,bootindex=0",
        "virtio-blk-pci,drive=vol0,serial=vol0",
    ]


def test_qemu_argv_of_the_bundle_is_unchanged(tmp_path):
    bundle = bundle_of(tmp_path, ("bundle", "raw"))
    argv = qemu_argv(bundle, opts(firmware="uefi"), TCG_HOST)  # firmware: ignored (note in boot())
    assert opt_value(argv, "-kernel").endswith("/img/kernel") and "-boot" not in argv


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, named",
    [
        (dict(app_args=["--port", "1"]), "the app arguments after `--` (--port 1)"),
        (dict(kernel_params=["loglevel=7"]), "--unikernel-run-kernel-args (loglevel=7)"),
        (dict(replace_args=True), "--unikernel-run-replace-args"),
        (dict(network="host"), "--unikernel-run-network=host (the image has `network=\"isolated\"`)"),
    ],
)
def test_disk_boot_rejects_command_line_changes(tmp_path, options, named):
    bundle = bundle_of(tmp_path, ("bundle", "qcow2"))
    with pytest.raises(LaunchError) as e:
        qemu_argv(bundle, opts(format="qcow2", run_command="pants run a/b:img", **options), TCG_HOST)
    msg = str(e.value)
    assert named in msg and "fixed inside the disk" in msg
    assert "`pants run --unikernel-run-format=bundle a/b:img`" in msg


def test_disk_boot_without_bundle_says_to_build_one(tmp_path):
    with pytest.raises(LaunchError, match="add \"bundle\" to the image's `formats` field"):
        qemu_argv(bundle_of(tmp_path, ("raw",)), opts(app_args=["x"]), TCG_HOST)
    # The image's own network is no change.
    assert qemu_argv(bundle_of(tmp_path, ("raw",)), opts(network="isolated"), TCG_HOST)


def test_disk_boot_needs_pc_firmware(tmp_path):
    with pytest.raises(LaunchError, match="microvm"):
        qemu_argv(bundle_of(tmp_path, ("raw",)), opts(machine="microvm"), TCG_HOST)
    assert opt_value(qemu_argv(bundle_of(tmp_path, ("raw",)), opts(machine="q35"), TCG_HOST), "-M") == "q35"


def test_disk_file_missing_or_manifest_bad(tmp_path):
    d = disk_image(tmp_path, ("qcow2",))
    os.unlink(d / "disk.qcow2")
    with pytest.raises(LaunchError, match=r"disk.qcow2 does not exist.*`pants package a/b:img`"):
        qemu_argv(launcher.load_bundle(str(d)), opts(), TCG_HOST)
    bad = {"formats": {"raw": {"file": "../etc/passwd", "qemu_format": "raw"}}}
    with pytest.raises(LaunchError, match="bad `formats.raw` entry"):
        qemu_argv(bundle_of(tmp_path, ("raw",), bad), opts(), TCG_HOST)
    odd = {"formats": {"raw": {"file": "disk.raw", "qemu_format": "iso"}}}
    with pytest.raises(LaunchError, match="QEMU format 'iso'"):
        qemu_argv(bundle_of(tmp_path, ("raw",), odd), opts(), TCG_HOST)
    with pytest.raises(LaunchError, match="work_dir"):
        qemu_argv(bundle_of(tmp_path, ("raw",)), opts(work_dir=None), TCG_HOST)


def test_uefi_boot_gets_the_firmwares_memory_floor(tmp_path):
    from unikernel_rules.qemu.launcher.disk import UEFI_MIN_MEMORY_MIB

    bundle = bundle_of(tmp_path, ("raw",), manifest={"memory_mib": 64})
    code = fake_ovmf(tmp_path)
    uefi = qemu_argv(bundle, opts(format="raw", firmware="uefi", ovmf=code, no_ports=True), TCG_HOST)
    assert opt_value(uefi, "-m") == str(UEFI_MIN_MEMORY_MIB)
    bios = qemu_argv(bundle, opts(format="raw", firmware="bios", no_ports=True), TCG_HOST)
    assert opt_value(bios, "-m") == "64"  # SeaBIOS needs nothing more than the image's memory
    with pytest.raises(LaunchError, match="too little for a UEFI boot"):
        qemu_argv(bundle, opts(format="raw", firmware="uefi", ovmf=code, memory_mib=64, no_ports=True), TCG_HOST)
    roomy = qemu_argv(bundle, opts(format="raw", firmware="uefi", ovmf=code, memory_mib=256, no_ports=True), TCG_HOST)
    assert opt_value(roomy, "-m") == "256"
