"""Runtime layers (a trimmed CPython, a JRE, ...) from locked Debian packages, and the ELF
closure of an app's native code: reusable cached processes over `layer.py` / `elf_closure.py`.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import Tuple

from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
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
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.debian.rules import (
    DebianPackagesRequest,
    DebianTree,
    LockedDebianPackage,
    debian_binary_argv,
)
from unikernel_rules.subsystems.debian_tools import DebianTools


class LayerBuildError(Exception):
    """A runtime layer cannot be built from the locked packages: shown without a traceback."""


@dataclass(frozen=True)
class RuntimeLayerRequest:
    packages: Tuple[str, ...]  # Debian packages (roots; their locked closure is unpacked)
    program: str  # tree-relative main program, e.g. "usr/bin/python3.11"
    keep: Tuple[str, ...]  # tree-relative path prefixes to keep
    drop: Tuple[str, ...]  # fnmatch patterns removed from `keep`
    compile: Tuple[str, ...]  # (Python) directories to compile to .pyc with `program`
    description_of_origin: str  # for errors: "the Python runtime of //a:image"


@dataclass(frozen=True)
class RuntimeLayer:
    digest: Digest  # the layer's files at guest paths
    tree: DebianTree  # the unpacked packages it was cut from
    files: int
    bytes: int
    libraries: Tuple[str, ...]  # shared libraries added by the ELF closure

    @property
    def packages(self) -> Tuple[LockedDebianPackage, ...]:
        return self.tree.packages


def _script(module: str, name: str) -> FileContent:
    return FileContent(name, importlib.resources.read_binary(module, name))


# Shown when a runtime layer is (re)built; the benchmark report looks for it.
RUNTIME_LAYER_MARKER = "runtime layer from"


LAYER_SCRIPTS = (("unikernel_rules.rootfs", "layer.py"), ("unikernel_rules.rootfs", "elf_closure.py"))


async def run_tool_script(
    tools: DebianTools,
    script: str,
    spec: dict,
    inputs: Digest,
    outputs: Tuple[str, ...],
    description: str,
    level: LogLevel = LogLevel.DEBUG,
    scripts: Tuple[Tuple[str, str], ...] = LAYER_SCRIPTS,
) -> FallibleProcessResult:
    """Run `script` (one of `scripts`: (package, file name) pairs shipped into the sandbox)
    with `spec.json` by the `[debian-tools]` Python (python-debian, pyelftools) as a cached
    process with a fixed hash seed, epoch and locale."""
    pex = await Get(VenvPex, PexRequest, tools.to_pex_request())
    files = await Get(
        Digest,
        CreateDigest(
            [
                *(_script(package, name) for package, name in scripts),
                FileContent("spec.json", json.dumps(spec, sort_keys=True).encode()),
            ]
        ),
    )
    input_digest = await Get(Digest, MergeDigests([inputs, files]))
    process = await Get(
        Process,
        VenvPexProcess(
            pex,
            argv=(script, "spec.json"),
            input_digest=input_digest,
            output_directories=outputs,
            description=description,
            level=level,
            extra_env={"PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "0", "LC_ALL": "C.UTF-8"},
        ),
    )
    return await Get(FallibleProcessResult, Process, process)


async def outputs_and_report(output_digest: Digest, report_path: str) -> Tuple[Digest, dict]:
    """Split a tool process's outputs: the tree under `out/` (prefix removed) and the JSON
    report at `report_path`."""
    out, report_digest = await MultiGet(
        Get(Digest, DigestSubset(output_digest, PathGlobs(["out/**"]))),
        Get(Digest, DigestSubset(output_digest, PathGlobs([report_path]))),
    )
    tree = await Get(Digest, RemovePrefix(out, "out"))
    report = json.loads((await Get(DigestContents, Digest, report_digest))[0].content)
    return tree, report


def tool_errors(result: FallibleProcessResult, prefix: str) -> str:
    out = result.stdout.decode(errors="replace")
    lines = [l[len(prefix) + 1 :] for l in out.splitlines() if l.startswith(prefix + " ")]
    if lines:
        return "\n".join(lines)
    return (result.stderr.decode(errors="replace") + out).strip()[-4000:]


@rule(desc="Build a runtime layer from locked Debian packages", level=LogLevel.DEBUG)
async def build_runtime_layer(request: RuntimeLayerRequest, tools: DebianTools) -> RuntimeLayer:
    tree = await Get(
        DebianTree, DebianPackagesRequest(request.packages, request.description_of_origin)
    )
    tree_input = await Get(Digest, AddPrefix(tree.digest, "tree"))
    spec = {
        "tree": "tree",
        "out": "out",
        "report": "report/layer.json",
        "program": request.program,
        "program_argv": list(debian_binary_argv("out", request.program)),
        "keep": list(request.keep),
        "drop": list(request.drop),
        "compile": list(request.compile),
    }
    result = await run_tool_script(
        tools,
        "layer.py",
        spec,
        tree_input,
        ("out", "report"),
        f"Building {request.description_of_origin}: a {RUNTIME_LAYER_MARKER} {len(tree.packages)} Debian packages",
        level=LogLevel.INFO,
    )
    if result.exit_code != 0:
        raise LayerBuildError(
            f"Building {request.description_of_origin} failed:\n"
            + tool_errors(result, "UNIKERNEL_LAYER_ERROR")
        )
    layer, report = await outputs_and_report(result.output_digest, "report/layer.json")
    return RuntimeLayer(
        digest=layer,
        tree=tree,
        files=report["files"],
        bytes=report["bytes"],
        libraries=tuple(report["libraries"]),
    )


@dataclass(frozen=True)
class NativeLibrariesRequest:
    """The shared libraries that `roots` (ELF files in `app`, guest paths) need and that
    `layer_files` do not already hold, taken from the unpacked Debian packages `tree`."""

    tree: DebianTree
    app: Digest
    roots: Tuple[str, ...]
    layer_files: Tuple[str, ...]
    description_of_origin: str
    extra_packages_option: str  # where users list more packages, e.g. "[unikernel-python].extra_packages"


@dataclass(frozen=True)
class NativeLibraries:
    digest: Digest  # the extra libraries at guest paths
    added: Tuple[str, ...]


@rule(desc="Find the shared libraries of an app's native code", level=LogLevel.DEBUG)
async def native_libraries(request: NativeLibrariesRequest, tools: DebianTools) -> NativeLibraries:
    if not request.roots:
        return NativeLibraries(await Get(Digest, MergeDigests([])), ())
    tree = await Get(Digest, MergeDigests([request.tree.digest, request.app]))
    tree = await Get(Digest, AddPrefix(tree, "tree"))
    spec = {
        "tree": "tree",
        "roots": [r.lstrip("/") for r in request.roots],
        "present": list(request.layer_files),
        "out": "out",
        "report": "report/elf.json",
    }
    result = await run_tool_script(
        tools, "elf_closure.py", spec, tree, ("out", "report"), f"Finding the shared libraries of {request.description_of_origin}"
    )
    if result.exit_code == 3:
        missing = [
            line.split(" ", 2)[1:]
            for line in result.stdout.decode(errors="replace").splitlines()
            if line.startswith("UNIKERNEL_ELF_MISSING ")
        ]
        raise LayerBuildError(
            f"The native code of {request.description_of_origin} needs shared libraries that "
            "the image does not have:\n"
            + "\n".join(f"  - {soname}, needed by {needer}" for soname, needer in missing)
            + "\nAdd the Debian package that ships each library (find it with "
            "`apt-file search <library>`, e.g. `libstdc++6` for libstdc++.so.6) to "
            f"`[debian-lock].packages` and to `{request.extra_packages_option}` in pants.toml, "
            "then run `pants generate-lockfiles --resolve=debian`. Or use a wheel that bundles "
            "its libraries (manylinux wheels do, except the system ones)."
        )
    if result.exit_code != 0:
        raise LayerBuildError(
            f"Finding the shared libraries of {request.description_of_origin} failed:\n"
            + tool_errors(result, "UNIKERNEL_ELF_ERROR")
        )
    out, report = await outputs_and_report(result.output_digest, "report/elf.json")
    return NativeLibraries(out, tuple(report["added"]))


def rules():
    return collect_rules()
