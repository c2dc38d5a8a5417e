"""Disk boots: which built format to boot, its firmware (SeaBIOS or OVMF), and its QEMU arguments.

An image built with disk formats (`formats=["raw", "qcow2", ...]`) has, beside manifest.json,
one file per format, listed in the manifest:

    "formats": {"bundle": {"files": [...]},
                "qcow2": {"file": "disk.qcow2", "qemu_format": "qcow2"}, ...
                "gce": {"file": "disk.tar.gz", "qemu_format": null, "member": "disk.raw"}},
    "disk": {"firmware": ["bios", "uefi"], "root_partuuid": ..., "cmdline": ...}

A disk boots like a real machine, through firmware: `bios` is QEMU's default SeaBIOS (the
disk's syslinux loads the kernel), `uefi` is OVMF (it runs the disk's EFI/BOOT/BOOTX64.EFI).
The disk is the first disk (bootindex=0, read-only) on the platform's controller (devices.py:
virtio-blk for `qemu`); volumes follow. Its kernel
command line is inside the disk: app arguments and kernel parameters cannot be added at boot.
A manifest without "formats" (older builds) is a bundle only.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tarfile
import zlib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .devices import root_disk_args
from .options import Bundle, LaunchError, LaunchOptions, run_command

FORMATS = ("bundle", "raw", "qcow2", "vmdk", "vhd", "gce")
DISK_FORMATS = FORMATS[1:]
QEMU_DISK_FORMATS = ("raw", "qcow2", "vmdk", "vpc")
FIRMWARES = ("auto", "bios", "uefi")
# `auto` is bios whenever the disk supports it. Measured under TCG (no KVM; QEMU 7.2, Debian
# 12's SeaBIOS 1.16 and OVMF 2022.11, `-M pc`, 2 busy cores), from QEMU's start to the first
# instruction of the disk's boot code: SeaBIOS 0.10-0.18 s to the boot sector (0.40 s with
# 16 MiB read through int13 after it, as syslinux reads the kernel and initrd), OVMF 3.5-5.0 s
# to BOOTX64.EFI (pflash CODE+VARS and the single OVMF.fd alike). UEFI costs ~4 s per boot.
AUTO_FIRMWARE_ORDER = ("bios", "uefi")
FIRMWARE_NAMES = {"bios": "SeaBIOS", "uefi": "OVMF"}

# OVMF as two pflash images (read-only code, the variable store copied per run), in order:
# Debian/Ubuntu `ovmf` (4M, then 2M), Fedora `edk2-ovmf`, Arch `edk2-ovmf`. Then single images
# for -bios (volatile variables): Debian's OVMF.fd.
OVMF_PFLASH = (
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
    ("/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"),
    ("/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd"),
)
OVMF_SINGLE = ("/usr/share/ovmf/OVMF.fd", "/usr/share/qemu/OVMF.fd")

# The run files of a disk boot, in LaunchOptions.work_dir.
GCE_DISK_FILE = "gce-disk.raw"  # the gce tarball's disk, extracted
VARS_FILE = "OVMF_VARS.fd"  # this run's copy of OVMF's variable store
FIRMWARE_LOG_FILE = "firmware.log"  # SeaBIOS's debug output (isa-debugcon on port 0x402)
SEABIOS_DEBUGCON = "isa-debugcon,iobase=0x402,chardev=fwlog"
# What SeaBIOS's log says when it found nothing to boot (then `-boot reboot-timeout=0` with
# -no-reboot makes QEMU exit).
SEABIOS_FAILED_MARKERS = ("Boot failed", "No bootable device")


@dataclasses.dataclass(frozen=True)
class Ovmf:
    code: str  # OVMF_CODE*.fd (pflash unit 0), or a single OVMF.fd when `vars_template` is None
    vars_template: Optional[str] = None  # OVMF_VARS*.fd, copied to the run's VARS_FILE


@dataclasses.dataclass(frozen=True)
class DiskBoot:
    format: str  # one of DISK_FORMATS
    source: str  # the built file, in the image's directory
    image: str  # what QEMU opens: `source`, or the gce tarball's member extracted into work_dir
    qemu_format: str  # one of QEMU_DISK_FORMATS
    firmware: str  # bios | uefi
    ovmf: Optional[Ovmf]  # uefi
    vars_file: Optional[str]  # uefi with pflash: the run's variable store
    firmware_log: Optional[str]  # bios: SeaBIOS's log
    member: Optional[str] = None  # gce: the tarball's member


def built_formats(manifest: Dict[str, Any]) -> List[str]:
    """The formats the image built, in the manifest's order; ["bundle"] for older manifests."""
    formats = manifest.get("formats")
    if not isinstance(formats, dict):
        return ["bundle"]
    # manifest.json is written with sorted keys: each entry's `order` is its place in `formats`.
    def order(item: Tuple[int, str]) -> int:
        position, name = item
        entry = formats[name]
        return entry["order"] if isinstance(entry, dict) and isinstance(entry.get("order"), int) else position

    return [str(name) for _, name in sorted(enumerate(formats), key=order)]


def boot_format(bundle: Bundle, options: LaunchOptions) -> str:
    """The format to boot: the option, else the bundle if built, else the first disk format."""
    built = built_formats(bundle.manifest)
    if options.format is None:
        if "bundle" in built or not built:
            return "bundle"
        return built[0]
    if options.format not in FORMATS:
        raise LaunchError(
            f"unknown image format {options.format!r} (`--unikernel-run-format`): the formats are "
            f"{', '.join(FORMATS)}, and {bundle.target} built {', '.join(built)}: use one of those"
        )
    if options.format not in built:
        # The example: a built disk for a disk asked for, else the first built format.
        alike = [f for f in built if (f in DISK_FORMATS) == (options.format in DISK_FORMATS)] or built
        example = run_command(bundle, options, f"--unikernel-run-format={alike[0]}")
        raise LaunchError(
            f"{bundle.target} was not built as {options.format!r}: its `formats` field built "
            f"only {', '.join(built)}. Add \"{options.format}\" to the `formats` field of the "
            f"unikernel_image target (then `pants run` packages it again), or boot a built one, e.g. `{example}`."
        )
    return options.format


def choose_firmware(bundle: Bundle, options: LaunchOptions) -> str:
    """`bios` or `uefi` for a disk boot: the option, or for `auto` the fastest one the disk has."""
    requested = options.firmware or "auto"
    if requested not in FIRMWARES:
        raise LaunchError(
            f"unknown firmware {requested!r} (`--unikernel-run-firmware`): use one of {', '.join(FIRMWARES)}"
        )
    disk = bundle.manifest.get("disk") or {}
    supported = [f for f in (disk.get("firmware") or AUTO_FIRMWARE_ORDER) if f in AUTO_FIRMWARE_ORDER]
    if not supported:
        raise LaunchError(
            f"the manifest of {bundle.target} names no firmware its disk boots with "
            f"(`disk.firmware`: {disk.get('firmware')!r}): package it again with `pants package {bundle.target}`"
        )
    if requested == "auto":
        return next(f for f in AUTO_FIRMWARE_ORDER if f in supported)
    if requested not in supported:
        raise LaunchError(
            f"the disk of {bundle.target} boots only with {' or '.join(supported)} firmware, not "
            f"{requested}: `{run_command(bundle, options, f'--unikernel-run-firmware={supported[0]}')}`"
        )
    return requested


def find_ovmf(
    explicit: Optional[str] = None,
    pflash: Tuple[Tuple[str, str], ...] = OVMF_PFLASH,
    single: Tuple[str, ...] = OVMF_SINGLE,
) -> Ovmf:
    """OVMF's files: `explicit` (an OVMF_CODE*.fd with its OVMF_VARS*.fd beside it, or a single
    OVMF.fd), else the first of the known package paths that exists."""
    if explicit:
        if not os.path.isfile(explicit):
            raise LaunchError(f"the OVMF firmware {explicit!r} (--ovmf) does not exist")
        directory, name = os.path.split(explicit)
        vars_path = os.path.join(directory, name.replace("CODE", "VARS"))
        if "CODE" in name and os.path.isfile(vars_path):
            return Ovmf(explicit, vars_path)
        return Ovmf(explicit)
    for code, vars_path in pflash:
        if os.path.isfile(code) and os.path.isfile(vars_path):
            return Ovmf(code, vars_path)
    for path in single:
        if os.path.isfile(path):
            return Ovmf(path)
    raise LaunchError(
        "UEFI boots need OVMF (QEMU's UEFI firmware), which is not installed: none of "
        f"{', '.join([*(c for c, _ in pflash), *single])} exists. Install it (Debian/Ubuntu: "
        "`sudo apt-get install ovmf`; Fedora: `sudo dnf install edk2-ovmf`; build-support/"
        "setup-host.sh installs it), or boot with SeaBIOS: `--unikernel-run-firmware=bios`."
    )


def check_disk_options(bundle: Bundle, options: LaunchOptions, fmt: str) -> None:
    """A disk's kernel command line is inside it: options that would change it are errors."""
    changes = []
    if options.app_args:
        changes.append(f"the app arguments after `--` ({' '.join(options.app_args)})")
    if options.kernel_params:
        changes.append(f"--unikernel-run-kernel-args ({' '.join(options.kernel_params)})")
    if options.replace_args:
        changes.append("--unikernel-run-replace-args")
    image_network = bundle.manifest.get("network")
    if options.network and options.network != image_network:
        changes.append(f"--unikernel-run-network={options.network} (the image has `network=\"{image_network}\"`)")
    if changes:
        if "bundle" in built_formats(bundle.manifest):
            fix = f"boot the bundle instead: `{run_command(bundle, options, '--unikernel-run-format=bundle')}`"
        else:
            fix = "add \"bundle\" to the image's `formats` field to boot its kernel with them"
        raise LaunchError(
            f"{run_command(bundle, options)} boots the {fmt} disk of {bundle.target}, whose kernel "
            f"command line is fixed inside the disk, so {' and '.join(changes)} cannot be applied: "
            f"{fix}, or change the image's `args`, `kernel_args` or `network` field and package it again."
        )
    machine = (options.machine or "pc").split(",", 1)[0]
    if machine == "microvm":
        raise LaunchError(
            f"the {fmt} disk of {bundle.target} boots through PC firmware, which QEMU's microvm "
            "machine has not: use the machine pc (the default) or q35"
        )


def plan_disk_boot(bundle: Bundle, options: LaunchOptions, ovmf: Optional[Ovmf] = None) -> Optional[DiskBoot]:
    """What a disk boot opens (None: the bundle boots). Pure but for looking up OVMF's files;
    prepare_disk() makes the run files (the extracted gce disk, the variable store)."""
    fmt = boot_format(bundle, options)
    if fmt == "bundle":
        return None
    check_disk_options(bundle, options, fmt)
    entry = (bundle.manifest.get("formats") or {}).get(fmt)
    name = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name or os.path.basename(name) != name:
        raise LaunchError(
            f"the manifest of {bundle.target} has a bad `formats.{fmt}` entry ({entry!r}): package "
            f"the image again with `pants package {bundle.target}`"
        )
    source = os.path.join(bundle.path, name)
    if not os.path.isfile(source):
        raise LaunchError(
            f"the {fmt} disk of {bundle.target} is missing: {source} does not exist (the manifest "
            f"lists it): package the image again with `pants package {bundle.target}`"
        )
    firmware = choose_firmware(bundle, options)
    if not options.work_dir:
        raise LaunchError("a disk boot needs a directory for its run files (work_dir)")
    member = None
    if fmt == "gce":
        member = str(entry.get("member") or "disk.raw")
        image, qemu_format = os.path.join(options.work_dir, GCE_DISK_FILE), "raw"
    else:
        image, qemu_format = source, entry.get("qemu_format")
        if qemu_format not in QEMU_DISK_FORMATS:
            raise LaunchError(
                f"the manifest of {bundle.target} gives the {fmt} disk the QEMU format {qemu_format!r} "
                f"(one of {', '.join(QEMU_DISK_FORMATS)} expected): package it again with `pants package {bundle.target}`"
            )
    if firmware == "uefi":
        ovmf = ovmf or find_ovmf(options.ovmf)
        vars_file = os.path.join(options.work_dir, VARS_FILE) if ovmf.vars_template else None
        return DiskBoot(fmt, source, image, qemu_format, firmware, ovmf, vars_file, None, member)
    log = os.path.join(options.work_dir, FIRMWARE_LOG_FILE)
    return DiskBoot(fmt, source, image, qemu_format, firmware, None, None, log, member)


# OVMF needs RAM of its own to load the UKI and let the kernel's EFI stub decompress the kernel
# (init_size, ~14 MB for ours) before ExitBootServices. Measured (TCG, OVMF 2022.11, the C disk
# example, 2 MB kernel): 64 MiB fails with "EFI stub: ERROR: Failed to decompress kernel",
# 80 MiB boots; after boot the firmware's memory is the kernel's again.
UEFI_MIN_MEMORY_MIB = 96


def disk_memory(disk: Optional[DiskBoot], memory: int, explicit: bool) -> int:
    """The guest memory of a boot: a UEFI boot gets at least UEFI_MIN_MEMORY_MIB unless
    --memory asked for less, which is an error (it would stop in the firmware)."""
    if disk is None or disk.firmware != "uefi" or memory >= UEFI_MIN_MEMORY_MIB:
        return memory
    if explicit:
        raise LaunchError(
            f"--memory {memory} is too little for a UEFI boot: OVMF needs about "
            f"{UEFI_MIN_MEMORY_MIB} MiB to load the disk's kernel (with less, the kernel's EFI stub "
            f"cannot decompress it); give --memory {UEFI_MIN_MEMORY_MIB} or more, or boot with "
            "SeaBIOS (--firmware bios), which needs no more than the image's `memory`"
        )
    return UEFI_MIN_MEMORY_MIB


def disk_args(
    bundle: Bundle, disk: DiskBoot, virtio: Callable[[str], str], escape: Callable[[str], str]
) -> Tuple[List[str], List[str], List[str]]:
    """(firmware arguments, -drive arguments, -device values) of a disk boot."""
    firmware: List[str] = []
    if disk.firmware == "uefi":
        assert disk.ovmf is not None
        if disk.vars_file:
            firmware = [
                "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={escape(disk.ovmf.code)}",
                "-drive", f"if=pflash,format=raw,unit=1,file={escape(disk.vars_file)}",
            ]
        else:
            firmware = ["-bios", disk.ovmf.code]
    elif disk.firmware_log:
        # SeaBIOS is QEMU's default: only its log, to explain a disk it cannot boot.
        firmware = ["-chardev", f"file,id=fwlog,path={escape(disk.firmware_log)}", "-device", SEABIOS_DEBUGCON]
    # Only the disk is tried (not the volumes); nothing bootable: the firmware reboots at once,
    # which -no-reboot turns into QEMU's exit (SeaBIOS; OVMF starts its shell, see console.py).
    firmware += ["-boot", "strict=on,reboot-timeout=0"]
    # On the platform's disk controller (devices.py): virtio-blk for `qemu`.
    drives, devices = root_disk_args(bundle, disk.image, disk.qemu_format, "disk", virtio, escape, bootindex=True)
    return firmware, drives, devices


def prepare_disk(disk: Optional[DiskBoot]) -> List[str]:
    """Make a disk boot's run files; returns what was done, as lines for --verbose."""
    if disk is None:
        return []
    done = []
    if disk.member is not None:
        extract_member(disk.source, disk.member, disk.image)
        done.append(f"extracted {disk.member} of {disk.source} to {disk.image}")
    if disk.vars_file and disk.ovmf and disk.ovmf.vars_template:
        try:
            shutil.copyfile(disk.ovmf.vars_template, disk.vars_file)
            os.chmod(disk.vars_file, 0o600)
        except OSError as e:
            raise LaunchError(
                f"cannot copy OVMF's variable store {disk.ovmf.vars_template} to {disk.vars_file}: {e}"
            ) from e
    how = f"{FIRMWARE_NAMES[disk.firmware]} ({disk.ovmf.code})" if disk.ovmf else FIRMWARE_NAMES[disk.firmware]
    done.append(f"booting the {disk.format} disk {disk.source} through {how}")
    return done


def extract_member(tar_path: str, member: str, dest: str, chunk: int = 1 << 20) -> None:
    """Write `member` of the gzip'd tar `tar_path` to `dest`, sparse (zero chunks are skipped)."""
    zero = bytes(chunk)
    fix = "it should be a gzip'd tar holding it: package the image again with `pants package`"
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            try:
                info = tar.getmember(member)
            except KeyError:
                names = ", ".join(tar.getnames()[:10]) or "nothing"
                raise LaunchError(
                    f"the gce image {tar_path} does not hold {member} (it holds {names}): {fix}"
                ) from None
            src = tar.extractfile(info) if info.isfile() else None
            if src is None:
                raise LaunchError(f"{member} in the gce image {tar_path} is not a regular file: {fix}")
            with src, open(dest, "wb") as out:
                while True:
                    data = src.read(chunk)
                    if not data:
                        break
                    if data == zero[: len(data)]:
                        out.seek(len(data), os.SEEK_CUR)
                    else:
                        out.write(data)
                out.truncate()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise LaunchError(f"cannot extract {member} from the gce image {tar_path}: {e}; {fix}") from e


def hint_options(bundle: Bundle, options: LaunchOptions, run_options: Sequence[str]) -> Tuple[str, ...]:
    """The options of a fix hint: one that adds kernel parameters boots the bundle (a disk's
    command line cannot change)."""
    changes = [o for o in run_options if o.startswith("--unikernel-run-kernel-args")]
    if not changes or boot_format(bundle, options) == "bundle":
        return tuple(run_options)
    if "bundle" in built_formats(bundle.manifest):
        return ("--unikernel-run-format=bundle", *run_options)
    return tuple(o for o in run_options if o not in changes)  # no bundle: they cannot be applied


def firmware_note(bundle: Bundle, options: LaunchOptions) -> Optional[str]:
    """A firmware asked for a bundle boot is ignored (the kernel boots directly): say so."""
    if (options.firmware or "auto") == "auto" or boot_format(bundle, options) != "bundle":
        return None
    disks = [f for f in built_formats(bundle.manifest) if f in DISK_FORMATS]
    if disks:
        run_options = (f"--unikernel-run-format={disks[0]}", f"--unikernel-run-firmware={options.firmware}")
        how = f"`{run_command(bundle, options, *run_options)}`"
    else:
        how = "add a disk format (e.g. \"raw\") to the image's `formats` field"
    return (
        f"note: --unikernel-run-firmware={options.firmware} is ignored: the bundle boots its kernel "
        f"directly, without firmware. To boot a disk through it: {how}."
    )


def firmware_failure(
    bundle: Bundle, options: LaunchOptions, console: Any, qemu_returncode: Optional[int]
) -> Optional[str]:
    """The explanation when the firmware found nothing to boot on the disk (else None);
    `console` is the boot's ConsoleState."""
    if console.app_exit is not None:
        return None
    try:  # the plan of the boot that ran (OVMF is not looked up again)
        disk = plan_disk_boot(bundle, options, Ovmf("")) if boot_format(bundle, options) != "bundle" else None
    except LaunchError:
        return None
    if disk is None:
        return None
    said = ""
    if disk.firmware == "uefi" and console.firmware_failed:
        said = "; ".join(line for line in console.firmware_lines if "failed" in line) or console.firmware_lines[-1]
    elif disk.firmware == "bios" and qemu_returncode == 0 and disk.firmware_log:
        try:
            with open(disk.firmware_log, encoding="utf-8", errors="replace") as f:
                log = [line.strip() for line in f]
        except OSError:
            log = []
        # "No bootable device.  Retrying in 0 seconds." (then it reboots: QEMU exits)
        failed = (line.split("  Retrying")[0] for line in log if line.startswith(SEABIOS_FAILED_MARKERS))
        said = "; ".join(dict.fromkeys(failed))
    if not said:
        return None
    said = said.rstrip(".")
    other = next((f for f in AUTO_FIRMWARE_ORDER if f != disk.firmware), "")
    try_other = ""
    if other in ((bundle.manifest.get("disk") or {}).get("firmware") or AUTO_FIRMWARE_ORDER):
        run_options = (f"--unikernel-run-format={disk.format}", f"--unikernel-run-firmware={other}")
        try_other = f", or try the other firmware: `{run_command(bundle, options, *run_options)}`"
    return (
        f"unikernel: the firmware ({FIRMWARE_NAMES[disk.firmware]}, `{disk.firmware}`) found nothing it could "
        f"boot on the {disk.format} disk {disk.source}, so the VM stopped; it said: {said}. The disk "
        f"is damaged or not bootable with {disk.firmware}: package the image again "
        f"(`pants package {bundle.target}`){try_other}."
    )
