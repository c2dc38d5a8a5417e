"""Build a bootable raw GPT disk from a bundle's kernel, initrd, command line and rootfs.img.

Runs inside a Pants Process on the build scripts' Python (debian/tool_python.py), stdlib only;
every tool comes from the Debian lock and runs through the tree's own loader (`spec["tool"]`
+ a path in the tree). Usage: `mkdisk.py SPEC.json`; see formats/disk.py for the spec.

The disk, in 512-byte sectors (every partition 1 MiB-aligned, the size a multiple of 1 MiB):

    LBA 0       protective MBR; bytes 0-439 are syslinux's gptmbr.bin (BIOS boot code)
    LBA 1-33    GPT header and partition entries (sgdisk; backup copy at the end)
    part 1      EFI system partition, FAT (mkfs.fat --invariant + mtools), "legacy BIOS
                bootable": EFI/BOOT/BOOTX64.EFI (a Unified Kernel Image: systemd-boot's stub +
                .cmdline + .linux + .initrd, joined by objcopy) for UEFI; ldlinux.sys +
                ldlinux.c32 + syslinux.cfg + kernel + initrd for BIOS (syslinux)
    part 2      only with a disk root: rootfs.img (squashfs) byte for byte; init finds it by its
                partition GUID (init.conf `rootdisk PARTUUID=...`)

Nothing is mounted and nothing needs root: the FAT image is written by mtools, the partitions
are copied into the disk file at their offsets. Every varying field is pinned: GPT disk and
partition GUIDs and the FAT volume id come from the spec (derived from the inputs), FAT
timestamps from SOURCE_DATE_EPOCH, the PE timestamp of the stub by `objcopy --preserve-dates`.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys

# In the sandbox, fatlink.py sits at this path under the working directory (on PYTHONPATH).
from unikernel_rules.formats import fatlink

SECTOR = 512
MIB = 1024 * 1024
ALIGN_SECTORS = MIB // SECTOR
GPT_SECTORS = 33  # header + 128 entries of 128 bytes
MBR_CODE_BYTES = 440
# UKI sections go right after the stub's own image, each 64 KiB-aligned: the firmware's PE
# loader allocates the whole image (SizeOfImage) at once, so fixed far-apart addresses (old
# ukify's .linux at 32 MiB) would ask a small VM's firmware for 32+ MiB ("Out of Resources").
SECTION_ALIGN = 0x10000
# FAT16 holds at most 65524 clusters; more (of 512 bytes: a 32 MiB ESP) makes it FAT32.
FAT16_MAX_CLUSTERS = 65525
# FAT timestamps: 1980-01-01 00:00:00 UTC, the earliest a FAT directory entry can hold.
FAT_EPOCH = "315532800"


class DiskError(Exception):
    pass


def run(argv, env=None, what=""):
    result = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise DiskError(
            f"{what or argv[0]} failed (exit code {result.returncode}): "
            + result.stdout.decode(errors="replace").strip()
        )
    return result.stdout.decode(errors="replace")


def align_up(value, unit):
    return (value + unit - 1) // unit * unit


def tool_argv(spec, binary):
    return [*spec["loader"], os.path.join(spec["tree"], binary)]


def write_path_wrappers(spec, names, bindir):
    """syslinux's installer runs `mattrib` and `mcopy` through /bin/sh (system()/popen()): put
    wrappers for the tree's mtools on PATH. They run the tree's binaries through its loader
    (paths relative to the sandbox root, which stays the working directory)."""
    os.makedirs(bindir, exist_ok=True)
    for name in names:
        words = " ".join(f"'{w}'" for w in tool_argv(spec, f"usr/bin/{name}"))
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write(f'#!/bin/sh\nexec {words} "$@"\n')
        os.chmod(path, 0o755)


def pe_image_end(path):
    """ImageBase + SizeOfImage of a PE32+ file: where added sections may start."""
    with open(path, "rb") as f:
        head = f.read(4096)
    (pe,) = struct.unpack_from("<I", head, 0x3C)
    if head[pe : pe + 4] != b"PE\0\0":
        raise DiskError(f"{path} is not a PE file")
    opt = pe + 24
    (magic,) = struct.unpack_from("<H", head, opt)
    if magic != 0x20B:
        raise DiskError(f"{path} is not a PE32+ (64-bit) file")
    (image_base,) = struct.unpack_from("<Q", head, opt + 24)
    (size_of_image,) = struct.unpack_from("<I", head, opt + 56)
    return image_base + size_of_image


def build_uki(spec, out):
    """EFI/BOOT/BOOTX64.EFI: systemd-boot's EFI stub with the kernel, initrd and command line."""
    stub = os.path.join(spec["tree"], spec["stub"])
    cmdline = spec["cmdline"].encode()
    with open("cmdline.uki", "wb") as f:
        f.write(cmdline)
    cmdline_vma = align_up(pe_image_end(stub), SECTION_ALIGN)
    linux_vma = align_up(cmdline_vma + len(cmdline), SECTION_ALIGN)
    initrd_vma = align_up(linux_vma + os.path.getsize(spec["kernel"]), SECTION_ALIGN)
    run(
        [
            *tool_argv(spec, spec["objcopy"]),
            "--preserve-dates",
            "--add-section", ".cmdline=cmdline.uki",
            "--change-section-vma", f".cmdline=0x{cmdline_vma:x}",
            "--add-section", f".linux={spec['kernel']}",
            "--change-section-vma", f".linux=0x{linux_vma:x}",
            "--add-section", f".initrd={spec['initrd']}",
            "--change-section-vma", f".initrd=0x{initrd_vma:x}",
            stub,
            out,
        ],
        what="objcopy (joining the Unified Kernel Image)",
    )


def syslinux_cfg(cmdline):
    return (
        "# Written by unikernel_rules: boot the image's kernel at once, nothing to choose.\n"
        "DEFAULT unikernel\nPROMPT 0\nTIMEOUT 0\n"
        f"LABEL unikernel\n  LINUX /kernel\n  INITRD /initrd\n  APPEND {cmdline}\n"
    )


def build_esp(spec, env, path):
    """The EFI system partition as a FAT image file: returns its size in bytes.

    The kernel and initramfs are stored once, inside the UKI; `kernel` and `initrd` (syslinux's
    files) point into its sections (fatlink.py). So the FAT has clusters of one 512-byte sector
    (the stub's PE file alignment) and is FAT16, or FAT32 when it has too many clusters."""
    build_uki(spec, "BOOTX64.EFI")
    with open("syslinux.cfg", "w") as f:
        f.write(syslinux_cfg(spec["cmdline"]))
    with open("placeholder", "wb") as f:
        f.write(b"\0")
    files = [
        ("BOOTX64.EFI", "::/EFI/BOOT/BOOTX64.EFI"),  # first: contiguous on the fresh FAT
        ("placeholder", "::/kernel"),
        ("placeholder", "::/initrd"),
        ("syslinux.cfg", "::/syslinux.cfg"),
    ]
    content = sum(align_up(os.path.getsize(src), SECTOR) for src, _ in files)
    # + syslinux's ldlinux.sys/.c32 (~160 KB), the FATs and directories, some slack; FAT16 needs
    # at least 4085 clusters (2 MiB of 512-byte clusters).
    size = max(align_up(content + content // 16 + MIB // 2, MIB), 3 * MIB)
    fat_bits = "16" if size // SECTOR < FAT16_MAX_CLUSTERS else "32"
    if os.path.exists(path):
        os.unlink(path)  # mkfs.fat -C refuses an existing file
    run(
        [
            *tool_argv(spec, "sbin/mkfs.fat"),
            "--invariant", "-i", spec["volume_id"], "-n", "UKESP", "-s", "1", "-F", fat_bits,
            "-C", path, str(size // 1024),
        ],
        env=env,
        what="mkfs.fat (the EFI system partition)",
    )
    run([*tool_argv(spec, "usr/bin/mmd"), "-i", path, "::/EFI", "::/EFI/BOOT"], env=env, what="mmd")
    for src, dst in files:
        run([*tool_argv(spec, "usr/bin/mcopy"), "-i", path, src, dst], env=env, what=f"mcopy {dst}")
    run(
        [*tool_argv(spec, "usr/bin/syslinux"), "--install", path],
        env=env,
        what="syslinux --install (the BIOS boot path)",
    )
    try:
        fatlink.link_into(
            path,
            "EFI/BOOT/BOOTX64.EFI",
            {
                "kernel": (".linux", os.path.getsize(spec["kernel"])),
                "initrd": (".initrd", os.path.getsize(spec["initrd"])),
            },
        )
    except fatlink.FatError as e:
        raise DiskError(f"linking the kernel and initrd into the UKI: {e}") from e
    return size


def build_disk(spec):
    env = {
        "PATH": os.path.abspath("wrappers"),
        "SOURCE_DATE_EPOCH": FAT_EPOCH,
        "TZ": "UTC",
        "LC_ALL": "C",
        "HOME": os.path.abspath("home"),
        "MTOOLS_SKIP_CHECK": "1",
        "MTOOLSRC": "/dev/null",
    }
    os.makedirs("home", exist_ok=True)
    write_path_wrappers(spec, ("mattrib", "mcopy", "mdir", "mdel"), "wrappers")
    esp_bytes = build_esp(spec, env, "esp.img")
    root = spec.get("rootfs")
    root_bytes = align_up(os.path.getsize(root), MIB) if root else 0

    esp_start = ALIGN_SECTORS
    esp_end = esp_start + esp_bytes // SECTOR - 1
    root_start = esp_end + 1
    root_end = root_start + root_bytes // SECTOR - 1
    last = root_end if root else esp_end
    disk_bytes = align_up((last + 1 + GPT_SECTORS) * SECTOR, MIB)

    out = spec["output"]
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "wb") as f:
        f.truncate(disk_bytes)
    sgdisk = [
        *tool_argv(spec, "sbin/sgdisk"),
        "--clear",
        f"--disk-guid={spec['disk_guid']}",
        f"--new=1:{esp_start}:{esp_end}",
        "--typecode=1:EF00",
        "--change-name=1:EFI system partition",
        f"--partition-guid=1:{spec['esp_guid']}",
        # Bit 2, "legacy BIOS bootable": gptmbr.bin chain-loads this partition's boot sector.
        "--attributes=1:set:2",
    ]
    if root:
        sgdisk += [
            f"--new=2:{root_start}:{root_end}",
            "--typecode=2:8300",
            "--change-name=2:root",
            f"--partition-guid=2:{spec['root_guid']}",
        ]
    run([*sgdisk, out], env=env, what="sgdisk (the GPT)")
    with open(os.path.join(spec["tree"], spec["gptmbr"]), "rb") as f:
        mbr_code = f.read()
    if len(mbr_code) > MBR_CODE_BYTES:
        raise DiskError(f"{spec['gptmbr']} is {len(mbr_code)} bytes, more than the MBR's {MBR_CODE_BYTES}")
    with open(out, "r+b") as disk:
        disk.seek(0)
        disk.write(mbr_code)
        for src, start in (("esp.img", esp_start), *(((root, root_start),) if root else ())):
            disk.seek(start * SECTOR)
            with open(src, "rb") as f:
                shutil.copyfileobj(f, disk, 4 * MIB)
    layout = {
        "bytes": disk_bytes,
        "sector_bytes": SECTOR,
        "partitions": [
            {"number": 1, "name": "EFI system partition", "start_lba": esp_start, "end_lba": esp_end,
             "guid": spec["esp_guid"], "type": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"},
            *(
                [{"number": 2, "name": "root", "start_lba": root_start, "end_lba": root_end,
                  "guid": spec["root_guid"], "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}]
                if root else []
            ),
        ],
        "disk_guid": spec["disk_guid"],
    }
    with open(spec["layout"], "w") as f:
        json.dump(layout, f, indent=2, sort_keys=True)
        f.write("\n")


def main(argv):
    with open(argv[1]) as f:
        spec = json.load(f)
    try:
        build_disk(spec)
    except DiskError as e:
        print(f"UNIKERNEL_DISK_ERROR {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
