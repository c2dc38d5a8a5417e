"""Bootable disks: the raw GPT disk (mkdisk.py) and its conversions (mkformat.py), one cached
Process each, every tool from the Debian lock (formats/packages.py).

The raw disk depends on the bundle's kernel, initrd, command line and rootfs.img only; each other
format depends on the raw disk only, so an app change rebuilds each once and never the kernel.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import uuid
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileEntry,
    FileContent,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.debian.rules import DebianPackagesRequest, DebianTree, debian_loader_argv
from unikernel_rules.debian.tool_python import ToolPython, ToolPythonRequest
from unikernel_rules.formats.names import BUNDLE, DISK_FORMATS_BY_NAME, RAW, DiskFormat
from unikernel_rules.formats.packages import DISK_BUILD_PACKAGES, DISK_CONVERT_PACKAGES

# Where the tools' tree sits in the sandboxes (an immutable input: read only).
DISK_TOOLS_DIR = "disktools"
# Paths in the tree (Debian 12's packages).
SYSTEMD_STUB = "usr/lib/systemd/boot/efi/linuxx64.efi.stub"
GPTMBR = "usr/lib/syslinux/mbr/gptmbr.bin"
OBJCOPY = "usr/bin/x86_64-linux-gnu-objcopy"
RAW_FILE = DISK_FORMATS_BY_NAME[RAW].file
LAYOUT_FILE = "disk-layout.json"
# Namespace of the GUIDs derived from an image's inputs (uuid5: the same inputs, the same GUIDs).
GUID_NAMESPACE = uuid.UUID("6b1f4f52-52a8-4c1e-9d3e-756e696b726e")


def derived_guid(kind: str, *fingerprints: str) -> str:
    """A GUID that is a function of `kind` and the inputs' sha256s (uuid5)."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{kind}:{':'.join(fingerprints)}"))


def root_partuuid(rootfs_sha256: str) -> str:
    """The root partition's GUID: init.conf names it before the disk exists, so it depends on
    rootfs.img alone."""
    return derived_guid("root", rootfs_sha256)


class DiskBuildError(Exception):
    pass


@dataclass(frozen=True)
class RawDiskRequest:
    kernel: Digest  # the single file `kernel` (bzImage with the EFI stub: the `efi` fragment)
    initrd: Digest  # the single file `initrd`
    cmdline: str  # the kernel command line, baked into the disk (UKI .cmdline, syslinux APPEND)
    rootfs: Optional[Digest]  # the single file `rootfs.img`, or None for an initramfs root
    # The root partition's GUID (root_partuuid(): the initrd's init.conf already names it), with
    # rootfs.
    root_partuuid: Optional[str]
    # The inputs' sha256s (kernel, initrd, cmdline, rootfs.img): the disk's GUIDs derive from them.
    fingerprints: Tuple[str, ...]
    description: str


@dataclass(frozen=True)
class RawDisk:
    digest: Digest  # the single file `disk.raw`
    layout_json: str  # partitions, sizes and GUIDs (disk-layout.json written by mkdisk.py)
    root_partuuid: Optional[str]

    @property
    def layout(self) -> dict:
        return json.loads(self.layout_json)


@dataclass(frozen=True)
class DiskFormatRequest:
    raw: RawDisk
    format: str  # a DiskFormat name other than `raw`
    description: str


@dataclass(frozen=True)
class DiskFormatFile:
    digest: Digest  # the single file DiskFormat.file
    format: DiskFormat


@dataclass(frozen=True)
class _DiskTools:
    digest: Digest
    kind: str  # "build" or "convert"


@dataclass(frozen=True)
class _DiskToolsRequest:
    kind: str


@rule(desc="Prepare the disk image tools from the Debian lock", level=LogLevel.DEBUG)
async def disk_tools(request: _DiskToolsRequest) -> _DiskTools:
    packages = DISK_BUILD_PACKAGES if request.kind == "build" else DISK_CONVERT_PACKAGES
    tree = await Get(
        DebianTree,
        DebianPackagesRequest(packages, description_of_origin="the bootable disk images (`formats`)"),
    )
    return _DiskTools(tree.digest, request.kind)


def _script(name: str) -> bytes:
    return importlib.resources.read_binary("unikernel_rules.formats", name)


# The modules each script imports (`from unikernel_rules.formats import ...`): shipped at that
# path in the sandbox, which is on PYTHONPATH.
SCRIPT_MODULES = {"mkdisk.py": ("fatlink.py",), "mkformat.py": ()}


async def _run_script(
    script: str, spec: dict, inputs: Digest, tools: _DiskTools, output: str, description: str
) -> FallibleProcessResult:
    files = await Get(
        Digest,
        CreateDigest(
            [
                FileContent(script, _script(script)),
                *(FileContent(f"unikernel_rules/formats/{m}", _script(m)) for m in SCRIPT_MODULES[script]),
                FileContent("spec.json", json.dumps(spec, sort_keys=True).encode()),
            ]
        ),
    )
    input_digest, python = await MultiGet(
        Get(Digest, MergeDigests([inputs, files])), Get(ToolPython, ToolPythonRequest())
    )
    return await Get(
        FallibleProcessResult,
        Process(
            argv=python.argv(script, "spec.json"),
            input_digest=input_digest,
            immutable_input_digests=python.immutable_input_digests_with({DISK_TOOLS_DIR: tools.digest}),
            output_files=(output, *((f"out/{LAYOUT_FILE}",) if script == "mkdisk.py" else ())),
            description=description,
            env=python.env(python_path=["."]),
            level=LogLevel.DEBUG,
        ),
    )


def _failure(description: str, result: FallibleProcessResult, marker: str) -> DiskBuildError:
    stderr = result.stderr.decode(errors="replace")
    problems = [line.split(" ", 1)[1] for line in stderr.splitlines() if line.startswith(marker)]
    detail = "; ".join(problems) if problems else stderr.strip()[-4000:]
    return DiskBuildError(f"{description} failed (exit code {result.exit_code}): {detail}")


@rule(desc="Build a bootable raw disk", level=LogLevel.DEBUG)
async def build_raw_disk(request: RawDiskRequest) -> RawDisk:
    if (request.rootfs is None) != (request.root_partuuid is None):
        raise ValueError("RawDiskRequest: root_partuuid goes with rootfs (and only with it)")
    tools = await Get(_DiskTools, _DiskToolsRequest("build"))
    volume_id = hashlib.sha256(":".join(request.fingerprints).encode()).hexdigest()[:8]
    spec = {
        "loader": list(debian_loader_argv(DISK_TOOLS_DIR)),
        "tree": DISK_TOOLS_DIR,
        "kernel": "in/kernel",
        "initrd": "in/initrd",
        "rootfs": "in/rootfs.img" if request.rootfs is not None else None,
        "cmdline": request.cmdline,
        "stub": SYSTEMD_STUB,
        "gptmbr": GPTMBR,
        "objcopy": OBJCOPY,
        "disk_guid": derived_guid("disk", *request.fingerprints),
        "esp_guid": derived_guid("esp", *request.fingerprints),
        "root_guid": request.root_partuuid,
        "volume_id": volume_id,
        "output": f"out/{RAW_FILE}",
        "layout": f"out/{LAYOUT_FILE}",
    }
    pieces = [request.kernel, request.initrd, *([request.rootfs] if request.rootfs is not None else [])]
    inputs = await Get(Digest, AddPrefix(await Get(Digest, MergeDigests(pieces)), "in"))
    result = await _run_script("mkdisk.py", spec, inputs, tools, f"out/{RAW_FILE}", request.description)
    if result.exit_code != 0:
        raise _failure(request.description, result, "UNIKERNEL_DISK_ERROR ")
    out = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    disk, layout = await MultiGet(
        Get(Digest, DigestSubset(out, PathGlobs([RAW_FILE]))),
        Get(DigestContents, DigestSubset(out, PathGlobs([LAYOUT_FILE]))),
    )
    return RawDisk(disk, layout[0].content.decode(), request.root_partuuid)


@rule(desc="Convert a raw disk to another format", level=LogLevel.DEBUG)
async def convert_disk(request: DiskFormatRequest) -> DiskFormatFile:
    fmt = DISK_FORMATS_BY_NAME[request.format]
    if fmt.name == RAW:
        return DiskFormatFile(request.raw.digest, fmt)
    tools = await Get(_DiskTools, _DiskToolsRequest("convert"))
    disk_guid = str(request.raw.layout.get("disk_guid", ""))
    spec = {
        "loader": list(debian_loader_argv(DISK_TOOLS_DIR)),
        "tree": DISK_TOOLS_DIR,
        "raw": f"in/{RAW_FILE}",
        "format": fmt.name,
        "output": f"out/{fmt.file}",
        "member": fmt.member,
        # Derived from the raw disk's own GUID, itself derived from the inputs.
        "vmdk_cid": uuid.UUID(disk_guid).hex[:8] if disk_guid else "00000000",
        "vhd_uuid": disk_guid or str(uuid.UUID(int=0)),
    }
    inputs = await Get(Digest, AddPrefix(request.raw.digest, "in"))
    result = await _run_script("mkformat.py", spec, inputs, tools, f"out/{fmt.file}", request.description)
    if result.exit_code != 0:
        raise _failure(request.description, result, "UNIKERNEL_FORMAT_ERROR ")
    return DiskFormatFile(await Get(Digest, RemovePrefix(result.output_digest, "out")), fmt)


@dataclass(frozen=True)
class BootableDisksRequest:
    """Every disk format of `formats` (in order) from the pieces of an image."""

    formats: Tuple[str, ...]  # DiskFormat names
    kernel: Digest
    initrd: Digest
    cmdline: str
    rootfs: Optional[Digest]
    root_partuuid: Optional[str]  # root_partuuid() of rootfs, which the initrd's init.conf names
    image: str  # the image's address, for descriptions


@dataclass(frozen=True)
class BootableDisks:
    digest: Digest  # every format's file, at the top level
    files: Tuple[DiskFormatFile, ...]
    raw: RawDisk


async def _sha256(digest: Digest) -> str:
    entries = await Get(DigestEntries, Digest, digest)
    return next(e.file_digest.fingerprint for e in entries if isinstance(e, FileEntry))


@rule(desc="Build an image's bootable disks", level=LogLevel.DEBUG)
async def build_bootable_disks(request: BootableDisksRequest) -> BootableDisks:
    pieces = [request.kernel, request.initrd, *([request.rootfs] if request.rootfs is not None else [])]
    shas = [await _sha256(d) for d in pieces]
    cmdline_sha = hashlib.sha256(request.cmdline.encode()).hexdigest()
    fingerprints = (shas[0], shas[1], cmdline_sha, *shas[2:])
    raw = await Get(
        RawDisk,
        RawDiskRequest(
            kernel=request.kernel,
            initrd=request.initrd,
            cmdline=request.cmdline,
            rootfs=request.rootfs,
            root_partuuid=request.root_partuuid,
            fingerprints=fingerprints,
            description=f"Building the bootable raw disk of {request.image}",
        ),
    )
    files = await MultiGet(
        Get(
            DiskFormatFile,
            DiskFormatRequest(raw, name, f"Converting the disk of {request.image} to {name}"),
        )
        for name in request.formats
    )
    digest = await Get(Digest, MergeDigests([f.digest for f in files]))
    return BootableDisks(digest, tuple(files), raw)


def image_formats(
    formats: Tuple[str, ...],
    bundle_names: List[str],
    disks: Optional[BootableDisks],
    files: Dict[str, Dict],
    others: Dict[str, Dict],
) -> Dict[str, Dict]:
    """The manifest's `formats`: what each listed format wrote (the launcher boots from this);
    `others`: the entries of formats built elsewhere (`container`), by name."""
    out: Dict[str, Dict] = {}
    by_name = {f.format.name: f.format for f in (disks.files if disks else ())}
    # `order`: the place in the `formats` field (manifest.json's keys are sorted): `pants run`
    # boots the bundle if built, else the first disk listed.
    for order, name in enumerate(formats):
        if name == BUNDLE:
            out[name] = {"files": list(bundle_names), "order": order}
            continue
        if name in others:
            out[name] = others[name]
            continue
        fmt = by_name[name]
        entry = {"file": fmt.file, "qemu_format": fmt.qemu_format, "size": files[fmt.file]["size"], "order": order}
        if fmt.member:
            entry["member"] = fmt.member
        out[name] = entry
    return out


def rules():
    return collect_rules()
