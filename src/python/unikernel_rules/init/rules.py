"""Build the guest's PID 1 (`init.c`) with the same Zig toolchain as apps: static, tiny, cached."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass

from pants.engine.fs import CreateDigest, Digest, FileContent, RemovePrefix
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.subsystems.zig import Zig
from unikernel_rules.util_rules.zig_cc import ZigRequest, ZigResult, format_compiler_failure

INIT_CFLAGS = ("-Os", "-fno-ident", "-Wall", "-Wextra", "-static", "-s", "-Wl,--build-id=none")


@dataclass(frozen=True)
class BuiltInit:
    digest: Digest  # holds the single executable file `init`


class InitBuildError(Exception):
    pass


@rule(desc="Build the unikernel init (PID 1)", level=LogLevel.DEBUG)
async def build_init(zig: Zig) -> BuiltInit:
    source = importlib.resources.read_binary("unikernel_rules.init", "init.c")
    digest = await Get(Digest, CreateDigest([FileContent("init.c", source)]))
    built = await Get(
        ZigResult,
        ZigRequest(
            argv=("cc", "-target", zig.target, *INIT_CFLAGS, "-o", "out/init", "init.c"),
            input_digest=digest,
            output_files=("out/init",),
            description="Building the unikernel init (PID 1) with zig cc",
            level=LogLevel.INFO,
        ),
    )
    if built.result.exit_code != 0:
        raise InitBuildError(format_compiler_failure("the unikernel init", built.result))
    return BuiltInit(await Get(Digest, RemovePrefix(built.result.output_digest, "out")))


def rules():
    return collect_rules()
