"""One reusable process: run `zig cc` / `zig ar` over a digest (C programs, libraries, init)."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from typing import Tuple

from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.debian.tool_python import ToolPython, ToolPythonRequest
from unikernel_rules.subsystems.zig import Zig
from unikernel_rules.util_rules.tool_wheels import ToolWheels, ToolWheelsRequest

ZIG_CACHE_NAME = "unikernel_zig"
ZIG_CACHE_DIR = ".cache/zig"
# The ziglang wheel (pex's packed zip) in each sandbox, an immutable input; zig_launcher.py
# unpacks it once into the named cache (ZIG_UNPACKED_DIR) and runs its binary from there.
ZIG_WHEEL_DIR = "__zig"
ZIG_LAUNCHER = "zig_launcher.py"
ZIG_UNPACKED_DIR = f"{ZIG_CACHE_DIR}/unpacked"


@dataclass(frozen=True)
class ZigRequest:
    """Run `zig <argv...>` with `input_digest` in the sandbox, capturing `output_files`."""

    argv: Tuple[str, ...]
    input_digest: Digest
    output_files: Tuple[str, ...]
    description: str
    level: LogLevel = LogLevel.DEBUG


@dataclass(frozen=True)
class ZigResult:
    result: FallibleProcessResult


class CCompileError(Exception):
    """A user's C code did not compile or link: shown without a Python traceback."""


@rule
async def run_zig(request: ZigRequest, zig: Zig) -> ZigResult:
    # zig of the locked ziglang wheel, started by the locked Python: no host Python, no venv,
    # so the key is the wheel's and the Python's bytes + argv + env, the same on every machine
    # (unikernel_rules.util_rules.tool_wheels, unikernel_rules.debian.tool_python).
    launcher = importlib.resources.read_binary("unikernel_rules.util_rules", ZIG_LAUNCHER)
    wheels, python, launcher_digest = await MultiGet(
        Get(ToolWheels, ToolWheelsRequest(zig.to_pex_request(), ZIG_WHEEL_DIR, packed=True)),
        Get(ToolPython, ToolPythonRequest()),
        Get(Digest, CreateDigest([FileContent(ZIG_LAUNCHER, launcher)])),
    )
    wheel, fingerprint = wheels.wheel("ziglang-")
    input_digest = await Get(Digest, MergeDigests([request.input_digest, launcher_digest]))
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=python.argv(ZIG_LAUNCHER, wheel, f"{ZIG_UNPACKED_DIR}/{fingerprint[:24]}", *request.argv),
            input_digest=input_digest,
            immutable_input_digests=python.immutable_input_digests_with(wheels.immutable_input_digests),
            output_files=request.output_files,
            description=request.description,
            level=request.level,
            env=python.env(
                extra={
                    # zig keeps its compiled libc (musl) here: built once (~2 min), then reused.
                    # The contents never influence outputs, so it is a named cache, not an input.
                    "ZIG_GLOBAL_CACHE_DIR": f"{ZIG_CACHE_DIR}/global",
                    "ZIG_LOCAL_CACHE_DIR": f"{ZIG_CACHE_DIR}/local",
                    # Deterministic output: no wall-clock time anywhere.
                    "SOURCE_DATE_EPOCH": "0",
                    "ZERO_AR_DATE": "1",
                }
            ),
            append_only_caches={ZIG_CACHE_NAME: ZIG_CACHE_DIR},
        ),
    )
    return ZigResult(result)


def format_compiler_failure(what: str, result: FallibleProcessResult) -> str:
    output = (result.stderr.decode(errors="replace") + result.stdout.decode(errors="replace")).strip()
    return softwrap(f"Compiling {what} failed (zig cc exited with {result.exit_code}):\n\n") + output


def rules():
    return collect_rules()
