"""The C runtime: `c_library` -> static archive, `c_program` -> static musl executable (zig cc)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Tuple

from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST, AddPrefix, Digest, MergeDigests, RemovePrefix
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    InvalidFieldException,
    Target,
    TransitiveTargets,
    TransitiveTargetsRequest,
)
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.sbom.api import Provenance
from unikernel_rules.runtimes.api import APP_DIR, UnikernelApp, UnikernelAppFieldSet
from unikernel_rules.subsystems.zig import Zig
from unikernel_rules.target_types import (
    CBinaryNameField,
    CCoptsField,
    CDefinesField,
    CLibrarySourcesField,
    CLinkoptsField,
    CProgramSourcesField,
    CSourcesField,
    CTextualHeadersField,
)
from unikernel_rules.util_rules.zig_cc import (
    CCompileError,
    ZigRequest,
    ZigResult,
    format_compiler_failure,
)

# Deterministic, small, static executables.
BASE_CFLAGS = ("-Os", "-fno-ident", "-ffile-prefix-map=./=")
BASE_LDFLAGS = ("-static", "-s", "-Wl,--build-id=none")


@dataclass(frozen=True)
class CProgramFieldSet(UnikernelAppFieldSet):
    runtime = "c"
    required_fields = (CProgramSourcesField,)

    sources: CProgramSourcesField
    binary_name: CBinaryNameField


@dataclass(frozen=True)
class CStaticLibrary:
    address: Address
    digest: Digest  # holds `path`
    path: str


@dataclass(frozen=True)
class CLibraryRequest:
    address: Address


@dataclass(frozen=True)
class CHeaders:
    """What compiling against some C targets needs: their sources, headers and textual headers
    (`digest`), and `-I` flags for the directory of each target and of each textual header."""

    digest: Digest
    include_flags: Tuple[str, ...]


def _include_flags(targets: Iterable[Target], textual_files: Iterable[str]) -> Tuple[str, ...]:
    dirs = {t.address.spec_path or "." for t in targets}
    dirs.update(os.path.dirname(f) or "." for f in textual_files)
    return tuple(f"-I{d}" for d in sorted(dirs))


def _compile_flags(target: Target, zig: Zig) -> Tuple[str, ...]:
    return (
        "-target",
        zig.target,
        *BASE_CFLAGS,
        *(f"-D{d}" for d in target[CDefinesField].value or ()),
        *(target[CCoptsField].value or ()),
    )


async def _headers(targets: Iterable[Target]) -> CHeaders:
    targets = tuple(targets)
    sources, textual = await MultiGet(
        Get(SourceFiles, SourceFilesRequest([t[CSourcesField] for t in targets if t.has_field(CSourcesField)])),
        Get(
            SourceFiles,
            SourceFilesRequest(
                [t[CTextualHeadersField] for t in targets if t.has_field(CTextualHeadersField)]
            ),
        ),
    )
    digest = await Get(Digest, MergeDigests([sources.snapshot.digest, textual.snapshot.digest]))
    return CHeaders(digest, _include_flags(targets, textual.files))


def check_not_textual(address: Address, sources: Iterable[str], textual: Iterable[str]) -> None:
    """A file is either compiled (`sources`) or only included (`textual_headers`), not both."""
    both = sorted(set(sources) & set(textual))
    if both:
        raise InvalidFieldException(
            softwrap(
                f"""
                The `{CTextualHeadersField.alias}` field of {address} names files that its
                `sources` field also names, so they would be compiled on their own as well as
                `#include`d: {', '.join(both)}. Remove them from `sources`: list only the files to
                compile, or exclude these with a `!` pattern (e.g. add
                `"!{os.path.basename(both[0])}"` to `sources`).
                """
            )
        )


async def _own_sources(target: Target, field: type) -> SourceFiles:
    own, textual = await MultiGet(
        Get(SourceFiles, SourceFilesRequest([target[field]])),
        Get(SourceFiles, SourceFilesRequest([target[CTextualHeadersField]])),
    )
    check_not_textual(target.address, own.files, textual.files)
    return own


def _c_libraries(targets: Iterable[Target]) -> Tuple[Target, ...]:
    return tuple(t for t in targets if t.has_field(CLibrarySourcesField))


@rule(desc="Compile a C library", level=LogLevel.DEBUG)
async def build_c_library(request: CLibraryRequest, zig: Zig) -> CStaticLibrary:
    transitive = await Get(TransitiveTargets, TransitiveTargetsRequest([request.address]))
    lib = transitive.roots[0]
    libs = (lib, *_c_libraries(transitive.dependencies))
    own_sources = await _own_sources(lib, CLibrarySourcesField)
    headers = await _headers(libs)
    c_files = [f for f in own_sources.files if f.endswith(".c")]
    name = f"lib{request.address.target_name}.a"
    out = os.path.join("out", request.address.spec_path, name)
    objects = [os.path.join("obj", f[:-2] + ".o") for f in c_files]
    if not c_files:  # a header-only library: nothing to compile or link
        return CStaticLibrary(request.address, EMPTY_DIGEST, "")
    # One cached process per object file (run in parallel), then one to archive them.
    compiled = await MultiGet(
        Get(
            ZigResult,
            ZigRequest(
                argv=("cc", *_compile_flags(lib, zig), *headers.include_flags, "-c", src, "-o", obj),
                input_digest=headers.digest,
                output_files=(obj,),
                description=f"Compiling {src} ({request.address})",
            ),
        )
        for src, obj in zip(c_files, objects)
    )
    for result in compiled:
        if result.result.exit_code != 0:
            raise CCompileError(format_compiler_failure(f"the c_library {request.address}", result.result))
    digest = await Get(Digest, MergeDigests(r.result.output_digest for r in compiled))
    archived = await Get(
        ZigResult,
        ZigRequest(
            argv=("ar", "rcsD", out, *objects),
            input_digest=digest,
            output_files=(out,),
            description=f"Archiving {request.address}",
        ),
    )
    if archived.result.exit_code != 0:
        raise CCompileError(format_compiler_failure(f"the c_library {request.address}", archived.result))
    return CStaticLibrary(request.address, archived.result.output_digest, out)


@rule(desc="Compile and link a C program", level=LogLevel.DEBUG)
async def build_c_program(field_set: CProgramFieldSet, zig: Zig) -> UnikernelApp:
    transitive = await Get(TransitiveTargets, TransitiveTargetsRequest([field_set.address]))
    program = transitive.roots[0]
    libs = _c_libraries(transitive.dependencies)
    headers = await _headers([program, *libs])
    built_libs = await MultiGet(Get(CStaticLibrary, CLibraryRequest(lib.address)) for lib in libs)
    own = await _own_sources(program, CProgramSourcesField)
    c_files = [f for f in own.files if f.endswith(".c")]
    if not c_files:
        raise CCompileError(
            f"The `sources` field of {field_set.address} matches no `.c` file; a c_program needs at least one."
        )
    binary_name = field_set.binary_name.value or field_set.address.target_name
    out = f"out/{binary_name}"
    input_digest = await Get(
        Digest, MergeDigests([headers.digest, *(lib.digest for lib in built_libs)])
    )
    result = await Get(
        ZigResult,
        ZigRequest(
            argv=(
                "cc",
                *_compile_flags(program, zig),
                *headers.include_flags,
                *BASE_LDFLAGS,
                "-o",
                out,
                *c_files,
                # Dependents before dependencies, so that static archives resolve in order.
                *(lib.path for lib in built_libs if lib.path),
                *(program[CLinkoptsField].value or ()),
            ),
            input_digest=input_digest,
            output_files=(out,),
            description=f"Compiling and linking {field_set.address} (zig cc, static musl)",
            level=LogLevel.INFO,
        ),
    )
    if result.result.exit_code != 0:
        raise CCompileError(format_compiler_failure(f"the c_program {field_set.address}", result.result))
    # `out/<name>` becomes `app/<name>` in the guest.
    moved = await Get(Digest, RemovePrefix(result.result.output_digest, "out"))
    app_digest = await Get(Digest, AddPrefix(moved, APP_DIR))
    return UnikernelApp(
        runtime=CProgramFieldSet.runtime,
        digest=app_digest,
        command=(f"/{APP_DIR}/{binary_name}",),
        # Statically linked: the binary is all there is (musl from zig's own sources inside).
        provenance=Provenance(sources=headers.digest, built_from_sources=(f"{APP_DIR}/{binary_name}",)),
    )


def rules():
    return (*collect_rules(), UnionRule(UnikernelAppFieldSet, CProgramFieldSet))
