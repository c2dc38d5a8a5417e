"""Pack a guest root filesystem into an initramfs: one cached process running mkinitrd.py."""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import List

from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestSubset,
    FileContent,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import Process, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.debian.tool_python import ToolPython, ToolPythonRequest

# Guest paths with a meaning to init (see init/main.c and init/config.c).
INIT_PATH = "init"
UK_DIR = ".uk"
INIT_CONF = ".uk/init.conf"
COMPLETE_SENTINEL = ".uk/complete"
MEMORY_TOKEN = "@MEMORY_NEEDED_MIB@"


@dataclass(frozen=True)
class InitrdRequest:
    rootfs: Digest  # the guest's files at their guest paths, init and .uk/init.conf included
    compression: str  # "gzip" | "none"
    memory_base_mib: int
    description: str


@dataclass(frozen=True)
class Initrd:
    digest: Digest  # the single file `initrd`
    unpacked_bytes: int
    initrd_bytes: int
    memory_needed_mib: int
    entries: int


@rule(desc="Pack an initramfs", level=LogLevel.DEBUG)
async def build_initrd(request: InitrdRequest) -> Initrd:
    spec = {
        "root": "root",
        "output": "out/initrd",
        "report": "out/report.json",
        "compression": request.compression,
        "first": [INIT_PATH, UK_DIR, INIT_CONF, "dev", "dev/console"],
        "last": [COMPLETE_SENTINEL],
        "dirs": [
            {"path": "dev", "mode": 0o755},
            {"path": "proc", "mode": 0o555},
            {"path": "sys", "mode": 0o555},
            {"path": "tmp", "mode": 0o1777},
        ],
        "devices": [{"path": "dev/console", "type": "c", "major": 5, "minor": 1, "mode": 0o600}],
        "memory_base_mib": request.memory_base_mib,
        "substitute": {"path": INIT_CONF, "token": MEMORY_TOKEN},
    }
    script = importlib.resources.read_binary("unikernel_rules.rootfs", "mkinitrd.py")
    root = await Get(Digest, AddPrefix(request.rootfs, "root"))
    tool_files = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("mkinitrd.py", script),
                FileContent("spec.json", json.dumps(spec, sort_keys=True).encode()),
                FileContent(f"root/{COMPLETE_SENTINEL}", b""),
            ]
        ),
    )
    input_digest, python = await MultiGet(
        Get(Digest, MergeDigests([root, tool_files])), Get(ToolPython, ToolPythonRequest())
    )
    result = await Get(
        ProcessResult,
        Process(
            # The locked Python (and its zlib, which the gzip output depends on) is an input.
            argv=python.argv("mkinitrd.py", "spec.json"),
            input_digest=input_digest,
            immutable_input_digests=python.immutable_input_digests,
            output_files=("out/initrd", "out/report.json"),
            description=request.description,
            env=python.env(),
            level=LogLevel.DEBUG,
        ),
    )
    out = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    initrd = await Get(Digest, DigestSubset(out, PathGlobs(["initrd"])))
    report_digest = await Get(Digest, DigestSubset(out, PathGlobs(["report.json"])))
    report = json.loads((await Get(DigestContents, Digest, report_digest))[0].content)
    return Initrd(
        digest=initrd,
        unpacked_bytes=report["unpacked_bytes"],
        initrd_bytes=report["initrd_bytes"],
        memory_needed_mib=report["memory_needed_mib"],
        entries=report["entries"],
    )


async def pack_initrd(
    init_conf: str, files: List[Digest], *, compression: str, memory_base_mib: int, description: str
) -> Initrd:
    """The initramfs: `files` (init, and the app's files with an initramfs root) + init.conf."""
    conf = await Get(Digest, CreateDigest([FileContent(INIT_CONF, init_conf.encode())]))
    rootfs = await Get(Digest, MergeDigests([*files, conf]))
    return await Get(
        Initrd,
        InitrdRequest(
            rootfs=rootfs,
            compression=compression,
            memory_base_mib=memory_base_mib,
            description=description,
        ),
    )


def rules():
    return collect_rules()
