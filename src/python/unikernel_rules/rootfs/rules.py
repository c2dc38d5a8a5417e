"""Pack a guest root filesystem into an initramfs: one cached process running mkinitrd.py."""

from __future__ import annotations

import importlib.resources
import json
import platform
import zlib
from dataclasses import dataclass

from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
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
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

# Guest paths with a meaning to init (see init/main.c and init/config.c).
INIT_PATH = "init"
UK_DIR = ".uk"
INIT_CONF = ".uk/init.conf"
COMPLETE_SENTINEL = ".uk/complete"
MEMORY_TOKEN = "@MEMORY_NEEDED_MIB@"


def script_python_fingerprint() -> str:
    """What of the interpreter running our sandboxed stdlib-only scripts (Pants' own, the
    `PythonBuildStandaloneBinary`) can change their output: its version and zlib's. Stable
    across machines, unlike `sys.version` (which holds the interpreter's build date)."""
    return (
        f"{platform.python_implementation()} {platform.python_version()} "
        f"zlib {zlib.ZLIB_RUNTIME_VERSION}"
    )


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
async def build_initrd(request: InitrdRequest, python: PythonBuildStandaloneBinary) -> Initrd:
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
    input_digest = await Get(Digest, MergeDigests([root, tool_files]))
    result = await Get(
        ProcessResult,
        Process(
            argv=(python.path, "-S", "-E", "mkinitrd.py", "spec.json"),
            input_digest=input_digest,
            output_files=("out/initrd", "out/report.json"),
            description=request.description,
            # The interpreter's version and zlib's are part of the cache key (gzip output
            # depends on zlib); not `sys.version`, whose build date differs between machines.
            env={"PYTHONHASHSEED": "0", "UNIKERNEL_PYTHON_VERSION": script_python_fingerprint()},
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


def rules():
    return collect_rules()
