"""Unit tests of disk.py (2): a disk boot's run files (the gce disk, OVMF's variables), the
note for a bundle boot, explaining a disk the firmware cannot boot, fix hints, and boot() of a
disk against a fake QEMU (no VM)."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from unikernel_rules.qemu import launcher
from unikernel_rules.qemu.launcher import ConsoleState, LaunchError, LaunchOptions
from unikernel_rules.qemu.launcher.disk import (
    extract_member, firmware_failure, firmware_note, hint_options, plan_disk_boot, prepare_disk,
)
from unikernel_rules.qemu.launcher_testutil import (
    bundle_of, disk_image, fake_ovmf, make_bundle, opt_values, opts, write_gce,
)

# --- run files: gce, OVMF's variables ---------------------------------------------------------------


def test_extract_member_is_sparse_and_exact(tmp_path):
    data = b"MBR" + bytes(3 << 20) + b"\x01" + bytes(5)
    write_gce(tmp_path / "d.tar.gz", {"disk.raw": data})
    extract_member(str(tmp_path / "d.tar.gz"), "disk.raw", str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == data
    assert os.stat(tmp_path / "out").st_blocks * 512 < len(data)  # the zero MiBs were skipped


def test_extract_member_errors(tmp_path):
    write_gce(tmp_path / "d.tar.gz", {"other.img": b"x"})
    with pytest.raises(LaunchError, match="does not hold disk.raw \\(it holds other.img\\)"):
        extract_member(str(tmp_path / "d.tar.gz"), "disk.raw", str(tmp_path / "out"))
    (tmp_path / "bad.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(LaunchError, match="cannot extract disk.raw.*gzip'd tar"):
        extract_member(str(tmp_path / "bad.tar.gz"), "disk.raw", str(tmp_path / "out"))


def test_prepare_disk_makes_the_run_files(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    bundle = bundle_of(tmp_path, ("gce",))
    disk = plan_disk_boot(bundle, opts(firmware="uefi", ovmf=fake_ovmf(tmp_path), work_dir=str(work)))
    lines = prepare_disk(disk)
    assert (work / "gce-disk.raw").read_bytes().startswith(b"MBR") and (work / "OVMF_VARS.fd").read_bytes() == b"vars"
    assert lines[-1].startswith(f"booting the gce disk {tmp_path}/img/disk.tar.gz through OVMF")
    assert prepare_disk(None) == []


# --- notes, failures, hints -----------------------------------------------------------------------


def test_firmware_note_for_a_bundle_boot(tmp_path):
    bundle = bundle_of(tmp_path, ("bundle", "raw"))
    note = firmware_note(bundle, opts(firmware="uefi"))
    assert "--unikernel-run-firmware=uefi is ignored" in note
    assert "`pants run --unikernel-run-format=raw --unikernel-run-firmware=uefi a/b:img`" in note
    assert firmware_note(bundle, opts()) is None  # auto
    assert firmware_note(bundle, opts(format="raw", firmware="uefi")) is None  # a disk boot
    assert "add a disk format" in firmware_note(make_bundle(), LaunchOptions(firmware="bios"))


def test_firmware_failure_seabios(tmp_path):
    bundle = bundle_of(tmp_path, ("raw",))
    work = tmp_path / "w"
    work.mkdir()
    (work / "firmware.log").write_text(
        "Booting from Hard Disk...\nBoot failed: not a bootable disk\n\nNo bootable device.  Retrying in 0 seconds.\n"
    )
    options = opts(work_dir=str(work))
    msg = firmware_failure(bundle, options, ConsoleState(), 0)
    assert msg.startswith("unikernel: the firmware (SeaBIOS, `bios`) found nothing it could boot on the raw disk")
    assert "it said: Boot failed: not a bootable disk; No bootable device." in msg
    assert "`pants run --unikernel-run-format=raw --unikernel-run-firmware=uefi a/b:img`" in msg
    assert firmware_failure(bundle, options, ConsoleState(app_exit=0), 0) is None
    assert firmware_failure(bundle, options, ConsoleState(), 1) is None  # QEMU's own error
    (work / "firmware.log").write_text("Booting from Hard Disk...\n")  # it booted: the kernel failed
    assert firmware_failure(bundle, options, ConsoleState(), 0) is None


def test_firmware_failure_ovmf_starts_its_shell(tmp_path):
    bundle = bundle_of(tmp_path, ("qcow2",))
    state = ConsoleState()
    lines = [
        '\x1b[2J\x1b[01;01HBdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x5,0x0): Not Found',
        'BdsDxe: loading Boot0002 "EFI Internal Shell" from Fv(7CB8BDC9)/FvFile(7C04A583)',
    ]
    # Loading its shell means nothing on the disk booted: stopped like a panic (once).
    assert [state.feed_line(line) for line in lines] == [[], ["panic"]]
    assert state.feed_line('BdsDxe: starting Boot0002 "EFI Internal Shell" from Fv(7CB8BDC9)') == []
    msg = firmware_failure(bundle, opts(firmware="uefi"), state, 0)
    assert "(OVMF, `uefi`)" in msg and 'it said: BdsDxe: failed to load Boot0001 "UEFI Misc Device"' in msg
    assert "--unikernel-run-firmware=bios" in msg
    assert firmware_failure(make_bundle(), LaunchOptions(), state, 0) is None  # a bundle boot


def test_hint_options_boot_the_bundle_for_kernel_args(tmp_path):
    show = ("--unikernel-run-show-log", "--unikernel-run-kernel-args=loglevel=7")
    both = bundle_of(tmp_path, ("bundle", "raw"))
    assert hint_options(both, opts(), show) == show  # the bundle boots
    assert hint_options(both, opts(format="raw"), show) == ("--unikernel-run-format=bundle", *show)
    assert hint_options(bundle_of(tmp_path, ("raw",)), opts(), show) == ("--unikernel-run-show-log",)
    assert hint_options(both, opts(format="raw"), ("--unikernel-run-memory=256",)) == ("--unikernel-run-memory=256",)


# --- boot() of a disk, against a fake QEMU ----------------------------------------------------------

FAKE_QEMU = textwrap.dedent(
    r"""
    import sys
    argv = sys.argv
    disk = next(d for i, d in enumerate(argv) if argv[i - 1] == "-drive" and ",id=disk," in d)
    path = disk.split(",if=none")[0][len("file="):].replace(",,", ",")
    content = open(path, "rb").read(3)
    log = [a.split("path=")[1] for a in argv if a.startswith("file,id=fwlog,")]
    if content == b"BAD":  # SeaBIOS finds nothing, reboots, -no-reboot: QEMU exits 0
        open(log[0], "w").write("Boot failed: not a bootable disk\n")
        sys.exit(0)
    assert "-kernel" not in argv and "-append" not in argv
    print("booted " + content.decode() + " with " + ("uefi" if "-bios" in argv else "bios"))
    print("UNIKERNEL_EXIT=4")
    sys.exit(9)
    """
)


@pytest.fixture
def fake_qemu(tmp_path):
    qemu = tmp_path / "qemu-system-x86_64"
    qemu.write_text(f"#!{sys.executable}\n" + FAKE_QEMU)
    qemu.chmod(0o755)
    return str(qemu)


def test_boot_gce_through_uefi(tmp_path, fake_qemu):
    d = disk_image(tmp_path, ("gce",))
    ovmf = fake_ovmf(tmp_path, split=False)
    r = launcher.boot(str(d), qemu=fake_qemu, firmware="uefi", ovmf=ovmf, console="serial", quiet=True, no_ports=True)
    assert r.exit_code == 4 and "booted MBR with uefi" in r.output
    work = opt_values(r.argv, "-drive")[0].split(",if=none")[0][len("file="):]
    assert work.endswith("/gce-disk.raw") and not os.path.exists(work)  # the temporary run files are gone


def test_boot_reports_a_disk_the_firmware_cannot_boot(tmp_path, fake_qemu):
    d = disk_image(tmp_path, ("raw",))
    (d / "disk.raw").write_bytes(b"BAD")
    r = launcher.boot(str(d), qemu=fake_qemu, console="serial", quiet=True, no_ports=True)
    assert r.exit_code == 1 and "found nothing it could boot on the raw disk" in r.message


def test_main_disk_errors_exit_1(tmp_path, capsys, fake_qemu):
    d = disk_image(tmp_path, ("bundle", "raw"))
    assert launcher.main(["--bundle", str(d), "--qemu", fake_qemu, "--format", "qcow2"]) == 1
    assert "was not built as 'qcow2'" in capsys.readouterr().err
    assert launcher.main(["--bundle", str(d), "--qemu", fake_qemu, "--format", "raw", "--", "arg"]) == 1
    assert "fixed inside the disk" in capsys.readouterr().err
