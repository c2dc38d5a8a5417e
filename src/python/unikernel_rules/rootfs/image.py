"""Pack a guest root filesystem into a read-only squashfs disk image: one cached process.

Big runtimes (CPython, a JRE) do not belong in the initramfs: it costs RAM ~2-3x its unpacked
size and unpacks at ~60 MB/s of guest time before /init starts. On a squashfs disk the files
are read lazily through the page cache (reclaimable), and init lays a tmpfs-backed overlay on
top so the app can still write anywhere.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import Tuple

from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestEntries,
    FileContent,
    FileEntry,
    MergeDigests,
    RemovePrefix,
    SymlinkEntry,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.debian.rules import DebianPackagesRequest, DebianTree, debian_binary_argv
from unikernel_rules.rootfs import mkrootfs
from unikernel_rules.debian.tool_python import ToolPython, ToolPythonRequest

ROOTFS_IMAGE = "rootfs.img"
# lz4 (-Xhc): measured under qemu -icount, the guest decompresses a CPython stdlib 2.7x faster
# than zstd (kernel/fragments/disk.config has the numbers), and its kernel decompressor is tiny.
ROOTFS_COMPRESSION = mkrootfs.DEFAULT_COMPRESSION
ROOTFS_FSTYPE = "squashfs"
# Mount points init needs in the new root (the overlay could create them, but then every boot
# would copy them up).
ROOTFS_DIRS = ("dev", "proc", "sys", "tmp")
TOOLS_DIR = "tools"


@dataclass(frozen=True)
class RootfsImageRequest:
    rootfs: Digest  # the guest's files at their guest paths (symlinks allowed)
    description: str
    compression: str = ROOTFS_COMPRESSION  # "lz4" | "zstd" (the kernel's `disk` fragment has both)


@dataclass(frozen=True)
class RootfsImage:
    digest: Digest  # the single file "rootfs.img"
    image_bytes: int
    unpacked_bytes: int  # sum of the regular files' sizes
    files: int  # regular files and symlinks
    compression: str = ROOTFS_COMPRESSION
    fstype: str = ROOTFS_FSTYPE


class RootfsImageError(Exception):
    pass


@dataclass(frozen=True)
class Mksquashfs:
    """How to run mksquashfs in a sandbox: `digest` goes at the sandbox root, then `argv`."""

    digest: Digest
    argv: Tuple[str, ...]
    fingerprint: str  # enters the cache key


# mksquashfs is hermetic: Debian's squashfs-tools from the lock, run through its own dynamic
# loader and libraries (never the host's).
@rule(desc="Prepare mksquashfs from the Debian lock", level=LogLevel.DEBUG)
async def find_mksquashfs() -> Mksquashfs:
    tree = await Get(
        DebianTree,
        DebianPackagesRequest(
            ("squashfs-tools",), description_of_origin="the root filesystem images (rootfs.img)"
        ),
    )
    return Mksquashfs(
        digest=await Get(Digest, AddPrefix(tree.digest, TOOLS_DIR)),
        argv=tuple(debian_binary_argv(TOOLS_DIR, "usr/bin/mksquashfs")),
        # The tree's digest is already part of the input digest.
        fingerprint="debian-lock",
    )


@rule(desc="Build a squashfs root filesystem image", level=LogLevel.DEBUG)
async def build_rootfs_image(
    request: RootfsImageRequest, mksquashfs: Mksquashfs
) -> RootfsImage:
    entries = await Get(DigestEntries, Digest, request.rootfs)
    regular = [e for e in entries if isinstance(e, FileEntry)]
    symlinks = [e for e in entries if isinstance(e, SymlinkEntry)]
    unpacked = sum(e.file_digest.serialized_bytes_length for e in regular)

    spec = {
        "root": "root",
        "output": f"out/{ROOTFS_IMAGE}",
        "mksquashfs": list(mksquashfs.argv),
        "compression": request.compression,
        "dirs": list(ROOTFS_DIRS),
    }
    script = importlib.resources.read_binary("unikernel_rules.rootfs", "mkrootfs.py")
    root = await Get(Digest, AddPrefix(request.rootfs, "root"))
    tool_files = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("mkrootfs.py", script),
                FileContent("spec.json", json.dumps(spec, sort_keys=True).encode()),
            ]
        ),
    )
    input_digest, python = await MultiGet(
        Get(Digest, MergeDigests([root, tool_files, mksquashfs.digest])),
        Get(ToolPython, ToolPythonRequest()),
    )
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=python.argv("mkrootfs.py", "spec.json"),
            input_digest=input_digest,
            immutable_input_digests=python.immutable_input_digests,
            output_files=(f"out/{ROOTFS_IMAGE}",),
            description=request.description,
            env=python.env(extra={"UNIKERNEL_MKSQUASHFS": mksquashfs.fingerprint}),
            level=LogLevel.DEBUG,
        ),
    )
    if result.exit_code != 0:
        raise RootfsImageError(
            f"{request.description} failed (exit code {result.exit_code}):\n"
            + result.stderr.decode(errors="replace").strip()
        )
    out = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    out_entries = await Get(DigestEntries, Digest, out)
    image = next(e for e in out_entries if isinstance(e, FileEntry) and e.path == ROOTFS_IMAGE)
    return RootfsImage(
        digest=out,
        image_bytes=image.file_digest.serialized_bytes_length,
        unpacked_bytes=unpacked,
        files=len(regular) + len(symlinks),
        compression=request.compression,
    )


def rules():
    return collect_rules()
