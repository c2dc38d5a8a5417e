"""Runtime layers (a trimmed CPython, a JRE, ...) from locked Debian packages, and the ELF
closure of an app's native code: reusable cached processes over `layer.py` / `elf_closure.py`.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import Dict, Iterable, Set, Tuple

from pants.engine.fs import (
    EMPTY_DIGEST,
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestSubset,
    FileContent,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
    Snapshot,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.debian.lock import REGENERATE_COMMAND
from unikernel_rules.debian.rules import (
    LIBRARY_DIRS,
    DebianLock,
    DebianLockRequest,
    DebianPackagesRequest,
    DebianTree,
    LockedDebianPackage,
    debian_binary_argv,
)
from unikernel_rules.rootfs.soname_packages import candidates, policy_name
from unikernel_rules.debian.tool_python import ToolPython, ToolPythonRequest
from unikernel_rules.subsystems.debian_tools import DebianTools
from unikernel_rules.util_rules.tool_wheels import ToolWheels, ToolWheelsRequest


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


# Where the `[debian-tools]` wheels appear in a sandbox (an immutable input).
DEBIAN_TOOLS_DIR = "__debian_tools"
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
    with `spec.json` by the locked Python (unikernel_rules.debian.tool_python) with the
    `[debian-tools]` libraries (python-debian, pyelftools) on its path, as a cached process
    with a fixed hash seed, epoch and locale."""
    python, wheels, files = await MultiGet(
        Get(ToolPython, ToolPythonRequest()),
        Get(ToolWheels, ToolWheelsRequest(tools.to_pex_request(), DEBIAN_TOOLS_DIR)),
        Get(
            Digest,
            CreateDigest(
                [
                    *(_script(package, name) for package, name in scripts),
                    FileContent("spec.json", json.dumps(spec, sort_keys=True).encode()),
                ]
            ),
        ),
    )
    input_digest = await Get(Digest, MergeDigests([inputs, files]))
    return await Get(
        FallibleProcessResult,
        Process(
            argv=python.argv(script, "spec.json"),
            input_digest=input_digest,
            immutable_input_digests=python.immutable_input_digests_with(wheels.immutable_input_digests),
            output_directories=outputs,
            description=description,
            level=level,
            env=python.env(wheels.python_path, {"SOURCE_DATE_EPOCH": "0", "LC_ALL": "C.UTF-8"}),
        ),
    )


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
    # False: return the missing libraries in `NativeLibraries.missing` (the caller words the
    # error, e.g. with Java advice) instead of raising the generic error.
    raise_on_missing: bool = True


@dataclass(frozen=True)
class MissingLibrary:
    soname: str
    needed_by: str  # guest path of the ELF file that needs it
    packages: Tuple[str, ...]  # locked Debian packages that ship it (checked in their files)
    suggested: Tuple[str, ...]  # not in the lock: the package Debian's naming policy gives it


@dataclass(frozen=True)
class NativeLibraries:
    digest: Digest  # the extra libraries at guest paths
    added: Tuple[str, ...]
    # The whole missing closure (only with `raise_on_missing=False`): the libraries the roots
    # need, then those that the locked packages providing them need in turn.
    missing: Tuple[MissingLibrary, ...] = ()


def missing_libraries_text(missing: Iterable[MissingLibrary]) -> str:
    """One line per missing library, with the Debian packages that provide it."""
    lines = []
    for m in missing:
        if m.packages:
            where = f"in the Debian lock's {' or '.join(m.packages)}"
        elif m.suggested:
            where = f"not in the Debian lock; Debian's package for it is probably {' or '.join(m.suggested)}"
        else:
            where = "not in the Debian lock"
        lines.append(f"  - {m.soname}, needed by {m.needed_by}: {where}")
    return "\n".join(lines)


def missing_packages_fix(missing: Iterable[MissingLibrary], field: str) -> str:
    """How to add the packages: `field` (an option or a target's field) and, for packages not
    in the lock, `[debian-lock].packages` + the re-lock command."""
    missing = list(missing)
    locked = sorted({m.packages[0] for m in missing if m.packages})
    unlocked = sorted({m.suggested[0] for m in missing if not m.packages and m.suggested})
    unknown = sorted(m.soname for m in missing if not m.packages and not m.suggested)
    parts = []
    if locked or unlocked:
        names = ", ".join(json.dumps(n) for n in locked + unlocked)
        parts.append(f"Add {names} to {field}.")
    if unlocked:
        parts.append(
            "Add {} to `[debian-lock].packages` in pants.toml (`[debian-lock] packages.add = [{}]`; "
            "their own dependencies are locked with them) and run `{}`.".format(
                ", ".join(unlocked), ", ".join(json.dumps(n) for n in unlocked), REGENERATE_COMMAND
            )
        )
    if unknown:
        parts.append(
            f"Find the package of {', '.join(unknown)} with `apt-file search <library>` and add it the same way."
        )
    return " ".join(parts)


async def _run_closure(
    tree: DebianTree, extra: Digest, request: NativeLibrariesRequest, tools: DebianTools
) -> FallibleProcessResult:
    merged = await Get(Digest, MergeDigests([tree.digest, extra, request.app]))
    merged = await Get(Digest, AddPrefix(merged, "tree"))
    spec = {
        "tree": "tree",
        "roots": [r.lstrip("/") for r in request.roots],
        "present": list(request.layer_files),
        "out": "out",
        "report": "report/elf.json",
    }
    return await run_tool_script(
        tools, "elf_closure.py", spec, merged, ("out", "report"), f"Finding the shared libraries of {request.description_of_origin}"
    )


def _missing_lines(result: FallibleProcessResult) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for line in result.stdout.decode(errors="replace").splitlines():
        if line.startswith("UNIKERNEL_ELF_MISSING "):
            _, soname, needer = line.split(" ", 2)
            found.setdefault(soname, needer)
    return found


async def _locked_providers(lock: DebianLock, soname: str, skip: Set[str]) -> Tuple[str, ...]:
    """The locked packages (not in `skip`) whose files hold `soname` in a library directory:
    the policy-named candidates first; if none ships it, every other locked `lib*` package."""
    names = [p.name for p in lock.packages if p.name not in skip]
    first = candidates(soname, names)
    rest = [n for n in names if n.startswith("lib") and n not in first]
    for group in (first, rest):
        if not group:
            continue
        trees = await MultiGet(
            Get(DebianTree, DebianPackagesRequest((n,), "the Debian lock's packages", with_dependencies=False))
            for n in group
        )
        snapshots = await MultiGet(
            Get(Snapshot, DigestSubset(t.digest, PathGlobs([f"{d}/{soname}" for d in LIBRARY_DIRS])))
            for t in trees
        )
        found = tuple(n for n, snap in zip(group, snapshots) if snap.files or snap.dirs)
        if found:
            return found
    return ()


async def _explain_missing(
    request: NativeLibrariesRequest, first: Dict[str, str], tools: DebianTools
) -> Tuple[MissingLibrary, ...]:
    """The whole missing closure: each missing library with the locked packages that ship it;
    then, with those packages (and their locked dependencies) added, what is still missing."""
    lock = await Get(DebianLock, DebianLockRequest())
    in_tree = {p.name for p in request.tree.packages}
    explained: Dict[str, MissingLibrary] = {}
    added: Set[str] = set()
    pending = dict(first)
    for _ in range(6):  # the chain of libraries rarely goes deeper than 3
        new: Set[str] = set()
        for soname, needer in sorted(pending.items()):
            providers = await _locked_providers(lock, soname, in_tree)
            suggested = () if providers else (policy_name(soname),)
            explained[soname] = MissingLibrary(soname, needer, providers, suggested)
            new.update(providers[:1])
        new -= added
        if not new:
            break
        added |= new
        extra = await Get(DebianTree, DebianPackagesRequest(tuple(sorted(added)), request.description_of_origin))
        result = await _run_closure(request.tree, extra.digest, request, tools)
        pending = {s: n for s, n in _missing_lines(result).items() if s not in explained}
        if not pending:
            break
    return tuple(explained[s] for s in sorted(explained, key=lambda s: (s not in first, s)))


@rule(desc="Find the shared libraries of an app's native code", level=LogLevel.DEBUG)
async def native_libraries(request: NativeLibrariesRequest, tools: DebianTools) -> NativeLibraries:
    if not request.roots:
        return NativeLibraries(await Get(Digest, MergeDigests([])), ())
    result = await _run_closure(request.tree, EMPTY_DIGEST, request, tools)
    if result.exit_code == 3:
        missing = await _explain_missing(request, _missing_lines(result), tools)
        if not request.raise_on_missing:
            return NativeLibraries(EMPTY_DIGEST, (), missing)
        raise LayerBuildError(
            f"The native code of {request.description_of_origin} needs shared libraries that "
            "the image does not have (all of them, with the Debian packages that ship them):\n"
            + missing_libraries_text(missing)
            + "\n"
            + missing_packages_fix(missing, f"`{request.extra_packages_option}` in pants.toml")
            + " Or use a wheel that bundles its libraries (manylinux wheels do, except the system ones)."
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
