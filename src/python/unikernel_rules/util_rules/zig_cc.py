"""One reusable process: run `zig cc` / `zig ar` over a digest (C programs, libraries, init)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.engine.fs import Digest
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.subsystems.zig import Zig

ZIG_CACHE_NAME = "unikernel_zig"
ZIG_CACHE_DIR = ".cache/zig"


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
    # A venv PEX starts faster than a zipped one: this runs on every app change.
    zig_pex = await Get(VenvPex, PexRequest, zig.to_pex_request())
    process = await Get(
        Process,
        VenvPexProcess(
            zig_pex,
            argv=request.argv,
            input_digest=request.input_digest,
            output_files=request.output_files,
            description=request.description,
            level=request.level,
            extra_env={
                # zig keeps its compiled libc (musl) here: built once (~2 min), then reused.
                # The contents never influence outputs, so it is a named cache, not an input.
                "ZIG_GLOBAL_CACHE_DIR": f"{ZIG_CACHE_DIR}/global",
                "ZIG_LOCAL_CACHE_DIR": f"{ZIG_CACHE_DIR}/local",
                # Deterministic output: no wall-clock time anywhere.
                "SOURCE_DATE_EPOCH": "0",
                "ZERO_AR_DATE": "1",
            },
            append_only_caches={ZIG_CACHE_NAME: ZIG_CACHE_DIR},
        ),
    )
    result = await Get(FallibleProcessResult, Process, process)
    return ZigResult(result)


def format_compiler_failure(what: str, result: FallibleProcessResult) -> str:
    output = (result.stderr.decode(errors="replace") + result.stdout.decode(errors="replace")).strip()
    return softwrap(f"Compiling {what} failed (zig cc exited with {result.exit_code}):\n\n") + output


def rules():
    return collect_rules()
