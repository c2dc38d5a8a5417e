"""Build the guest's PID 1 (this package's `*.c` and `*.h`) with the same Zig toolchain as apps:
static, tiny, cached."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from typing import Tuple

from pants.engine.fs import CreateDigest, Digest, FileContent, RemovePrefix
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.subsystems.zig import Zig
from unikernel_rules.util_rules.zig_cc import ZigRequest, ZigResult, format_compiler_failure

INIT_PACKAGE = "unikernel_rules.init"
# -Os, no unwind tables, unused sections dropped: init is in every image (the C example's 1.5 MB
# goal has a few hundred bytes to spare).
INIT_CFLAGS = ("-Os", "-fno-ident", "-Wall", "-Wextra", "-static", "-s", "-Wl,--build-id=none", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections")


@dataclass(frozen=True)
class BuiltInit:
    digest: Digest  # holds the single executable file `init`


class InitBuildError(Exception):
    pass


def init_sources() -> Tuple[FileContent, ...]:
    """Every `*.c` and `*.h` of this package (resources of the plugin, see ../BUILD), sorted by
    name so the compiler's command line, and so the binary, does not depend on directory order."""
    package = importlib.resources.files(INIT_PACKAGE)
    names = sorted(entry.name for entry in package.iterdir() if entry.name.endswith((".c", ".h")))
    return tuple(FileContent(name, (package / name).read_bytes()) for name in names)


@rule(desc="Build the unikernel init (PID 1)", level=LogLevel.DEBUG)
async def build_init(zig: Zig) -> BuiltInit:
    sources = init_sources()
    c_files = tuple(f.path for f in sources if f.path.endswith(".c"))
    if not c_files:
        raise InitBuildError(f"No C sources of the unikernel init in the package {INIT_PACKAGE}.")
    digest = await Get(Digest, CreateDigest(sources))
    built = await Get(
        ZigResult,
        ZigRequest(
            argv=("cc", "-target", zig.target, *INIT_CFLAGS, "-o", "out/init", *c_files),
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
