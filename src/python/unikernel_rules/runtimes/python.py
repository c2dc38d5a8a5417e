"""The Python runtime: a `pex_binary` -> a venv at build time on a locked, trimmed CPython.

Layers of the guest's root filesystem (each a cached process, rebuilt only when its inputs
change):
  1. the CPython runtime: Debian's python3.11 packages from the lock, trimmed, ELF closure,
     `.pyc` compiled (rootfs/layer.py) -- depends only on the Debian lock;
  2. the app: Pants builds the PEX as usual (for the image's CPython), then PEX's own tools
     install it into a venv at /opt/app with the image's interpreter (python_install.py), and
     the shared libraries its native extensions need are added from the lock.
Boot runs `/opt/app/bin/python -I -u -m <entry point>`: no shell, no pip, no unzipping.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
from dataclasses import dataclass
from typing import Tuple

from pants.backend.python.goals.package_pex_binary import (
    PexBinaryFieldSet,
    PexFromTargetsRequestForBuiltPackage,
)
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.target_types import (
    PexBinary,
    PexEntryPointField,
    PexLayout,
    PexScriptField,
    ResolvedPexEntryPoint,
    ResolvePexEntryPointRequest,
)
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.pex import Pex
from pants.backend.python.util_rules.pex_from_targets import (
    InterpreterConstraintsRequest,
    PexFromTargetsRequest,
)
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestSubset,
    FileContent,
    MergeDigests,
    PathGlobs,
    Snapshot,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import InvalidFieldException, WrappedTarget, WrappedTargetRequest
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.debian.lock import upstream_version
from unikernel_rules.debian.rules import debian_binary_argv
from unikernel_rules.rootfs.layer_rules import (
    LayerBuildError,
    NativeLibraries,
    NativeLibrariesRequest,
    RuntimeLayer,
    RuntimeLayerRequest,
    outputs_and_report,
)
from unikernel_rules.runtimes.api import UnikernelApp, UnikernelAppFieldSet
from unikernel_rules.runtimes.api import DISK_ROOT_MEMORY_BASE_MIB
from unikernel_rules.runtimes.python_memory import runtime_memory_mib, typical_memory_mib
from unikernel_rules.runtimes.python_checks import check_requirements_locked, entry_point_message, resolve_lock
from unikernel_rules.runtimes.python_sbom import python_distributions, python_sources
from unikernel_rules.sbom.api import Provenance
from unikernel_rules.subsystems.python_runtime import STDLIB, PythonRuntimeSubsystem
from unikernel_rules.target_types import UnikernelStdlibField, UnikernelStdlibKeepField

VENV_DIR = "/opt/app"


@dataclass(frozen=True)
class PythonAppFieldSet(UnikernelAppFieldSet):
    runtime = "python"
    required_fields = (PexEntryPointField,)

    entry_point: PexEntryPointField
    script: PexScriptField


@dataclass(frozen=True)
class PythonRuntime:
    layer: RuntimeLayer
    version: str  # e.g. "3.11.2"
    interpreter: str  # guest path, e.g. "/usr/bin/python3.11"
    files: Tuple[str, ...]  # the layer's paths (guest, without "/")


@dataclass(frozen=True)
class PythonRuntimeRequest:
    description_of_origin: str


@rule(desc="Build the CPython runtime layer", level=LogLevel.DEBUG)
async def build_python_runtime(
    request: PythonRuntimeRequest, subsystem: PythonRuntimeSubsystem
) -> PythonRuntime:
    packages = (*subsystem.debian_packages, *subsystem.extra_packages)
    layer = await Get(
        RuntimeLayer,
        RuntimeLayerRequest(
            packages=packages,
            program=subsystem.interpreter.lstrip("/"),
            keep=tuple(subsystem.keep),
            drop=tuple(subsystem.drop),
            compile=tuple(subsystem.compile_dirs),
            description_of_origin="the CPython runtime",
        ),
    )
    by_name = {p.name: p for p in layer.packages}
    interpreter_package = subsystem.debian_packages[0]
    if interpreter_package not in by_name:
        raise LayerBuildError(f"The Debian lock has no `{interpreter_package}`.")
    snapshot = await Get(Snapshot, Digest, layer.digest)
    return PythonRuntime(
        layer=layer,
        version=upstream_version(by_name[interpreter_package].version),
        interpreter=subsystem.interpreter,
        files=tuple(snapshot.files),
    )


def check_interpreter_constraints(
    address, constraints: InterpreterConstraints, version: str, python_setup: PythonSetup
) -> None:
    major, minor, patch = (int(x) for x in version.split(".")[:3])
    universe = python_setup.interpreter_versions_universe
    try:
        admitted = (major, minor, patch) in constraints.enumerate_python_versions(universe)
    except ValueError:
        admitted = False
    if not admitted:
        raise InvalidFieldException(
            softwrap(
                f"""
                The `pex_binary` {address} cannot run in a unikernel image: its interpreter
                constraints `{constraints}` do not admit the image's CPython {version} (Debian's
                python3.11 from the Debian lock). Set `interpreter_constraints=["CPython==3.11.*"]`
                on the `pex_binary` and on every `python_sources` it depends on (Pants 2.17 does
                not take them from the resolve; a `__defaults__` in the app's BUILD file sets
                them for all its targets), with a `resolve` locked for CPython 3.11
                (docs/python.md, "Interpreter constraints on the targets").
                """
            )
        )


# python_install.py's exit status when the entry point's module or function does not exist.
ENTRY_POINT_ERROR_EXIT = 4


def _install_errors(result: FallibleProcessResult, prefix: str = "UNIKERNEL_INSTALL_ERROR ") -> str:
    out = result.stdout.decode(errors="replace")
    lines = [l.split(" ", 1)[1] for l in out.splitlines() if l.startswith(prefix)]
    return "\n".join(lines) or (result.stderr.decode(errors="replace") + out).strip()[-4000:]


@rule(desc="Build a Python app for a unikernel image", level=LogLevel.DEBUG)
async def build_python_app(
    field_set: PythonAppFieldSet, python_setup: PythonSetup, subsystem: PythonRuntimeSubsystem
) -> UnikernelApp:
    address = field_set.address
    if field_set.script.value:
        raise InvalidFieldException(
            softwrap(
                f"""
                The `pex_binary` {address} sets `script`; a unikernel image boots an
                `entry_point` (`module` or `module:function`). Set `entry_point` instead.
                """
            )
        )
    wrapped = await Get(
        WrappedTarget, WrappedTargetRequest(address, description_of_origin="a unikernel image")
    )
    pex_field_set = PexBinaryFieldSet.create(wrapped.target)
    runtime, built_request, entry_point = await MultiGet(
        Get(PythonRuntime, PythonRuntimeRequest(f"the Python runtime of {address}")),
        Get(PexFromTargetsRequestForBuiltPackage, PexBinaryFieldSet, pex_field_set),
        Get(ResolvedPexEntryPoint, ResolvePexEntryPointRequest(field_set.entry_point)),
    )
    if entry_point.val is None:
        raise InvalidFieldException(f"The `pex_binary` {address} has no `entry_point`.")
    constraints = await Get(
        InterpreterConstraints,
        InterpreterConstraintsRequest,
        built_request.request.to_interpreter_constraints_request(),
    )
    check_interpreter_constraints(address, constraints, runtime.version, python_setup)
    lock = await resolve_lock(wrapped.target, python_setup)  # the lock check's and the SBOM's
    await check_requirements_locked(address, lock, python_setup)

    # The user's pex_binary as Pants would package it, but built for the image's CPython
    # minor version (wheels with its ABI tags) and with PEX's tools to install it.
    major_minor = ".".join(runtime.version.split(".")[:2])
    pex_request = dataclasses.replace(
        built_request.request,
        output_filename="app.pex",
        layout=PexLayout.ZIPAPP,
        hardcoded_interpreter_constraints=InterpreterConstraints([f"CPython=={major_minor}.*"]),
        additional_args=(*built_request.request.additional_args, "--include-tools"),
    )
    pex = await Get(Pex, PexFromTargetsRequest, pex_request)

    rt = await Get(Digest, AddPrefix(runtime.layer.digest, "rt"))
    python_argv = debian_binary_argv("rt", runtime.interpreter.lstrip("/"))
    spec = {
        "python_argv": list(python_argv),
        "pex": "app.pex",
        "out": "out",
        "venv": VENV_DIR,
        "interpreter": runtime.interpreter,
        "version": runtime.version,
        "report": "report/install.json",
        "stdlib": wrapped.target[UnikernelStdlibField].value,
        "stdlib_keep": list(wrapped.target[UnikernelStdlibKeepField].value or ()),
        "entry_point": {"module": entry_point.val.module, "function": entry_point.val.function},
    }
    script = importlib.resources.read_binary("unikernel_rules.runtimes", "python_install.py")
    files = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("python_install.py", script),
                FileContent("spec.json", json.dumps(spec, sort_keys=True).encode()),
            ]
        ),
    )
    input_digest = await Get(Digest, MergeDigests([rt, pex.digest, files]))
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=(*python_argv, "-s", "-S", "python_install.py", "spec.json"),
            input_digest=input_digest,
            output_directories=("out", "report"),
            description=f"Installing {address} into a venv for its unikernel image",
            # A fixed hash seed: set constants are written to .pyc files in hash order.
            env={
                "PYTHONHASHSEED": "0",
                "PYTHONDONTWRITEBYTECODE": "1",
                "SOURCE_DATE_EPOCH": "0",
                "LC_ALL": "C.UTF-8",
            },
            level=LogLevel.DEBUG,
        ),
    )
    if result.exit_code == ENTRY_POINT_ERROR_EXIT:
        problem = _install_errors(result, "UNIKERNEL_ENTRY_POINT_ERROR ")
        raise InvalidFieldException(entry_point_message(
            address, (field_set.entry_point.value or entry_point.val).spec, problem
        ))
    if result.exit_code != 0:
        raise LayerBuildError(f"Installing {address} for its unikernel image failed:\n" + _install_errors(result))
    app_files, report = await outputs_and_report(result.output_digest, "report/install.json")

    stdlib_files = report.get("stdlib_files")
    if stdlib_files is None:
        # The whole (trimmed) runtime layer, plus what the app's native code needs.
        runtime_files = runtime.layer.digest
        roots = tuple(report["native_extensions"])
        present = runtime.files
    else:
        # Only the standard library the app imports; the shared libraries then follow from
        # the interpreter, the C modules kept and the app's native code.
        runtime_files = await Get(
            Digest,
            DigestSubset(
                runtime.layer.digest,
                PathGlobs(["usr/bin/**", "etc/**", *(f"{STDLIB}/{p}" for p in stdlib_files)]),
            ),
        )
        roots = (
            runtime.interpreter,
            *(f"/{STDLIB}/{p}" for p in stdlib_files if p.endswith(".so")),
            *report["native_extensions"],
        )
        present = ()
    libraries = await Get(
        NativeLibraries,
        NativeLibrariesRequest(
            tree=runtime.layer.tree,
            app=app_files,
            roots=roots,
            layer_files=present,
            description_of_origin=f"the `pex_binary` {address}",
            extra_packages_option="[unikernel-python].extra_packages",
        ),
    )
    digest = await Get(Digest, MergeDigests([runtime_files, app_files, libraries.digest]))

    distributions = python_distributions(lock, report["distributions"])
    own_sources = await python_sources(wrapped.target)
    memory_mib = runtime_memory_mib(report.get("app_pyc_bytes", 0), report["distributions"])
    module, function = entry_point.val.module, entry_point.val.function
    python = f"{VENV_DIR}/bin/python3"
    # -I: isolated (no user site, no PYTHON* variables, no cwd on sys.path); -u: unbuffered
    # console output, so log lines reach the serial console at once.
    if function:
        command: Tuple[str, ...] = (
            python, "-I", "-u", "-c",
            f"import sys; from {module} import {function} as main; sys.exit(main())",
        )
    else:
        command = (python, "-I", "-u", "-m", module)
    command += tuple(report["inject_args"])
    return UnikernelApp(
        runtime=PythonAppFieldSet.runtime,
        digest=digest,
        command=command,
        env=FrozenDict(report["inject_env"]),
        # ~40 MB of runtime: a read-only squashfs disk, read lazily, instead of RAM.
        root="disk",
        # The interpreter's own heap, the app's imports and its libraries' known big
        # allocations, from measured figures (python_memory.py, docs/python.md "Memory").
        memory_mib=memory_mib,
        typical_memory_mib=typical_memory_mib(DISK_ROOT_MEMORY_BASE_MIB + memory_mib),
        provenance=Provenance(debian=runtime.layer.packages, python=distributions, sources=own_sources),
    )


def rules():
    return (
        *collect_rules(),
        UnionRule(UnikernelAppFieldSet, PythonAppFieldSet),
        PexBinary.register_plugin_field(UnikernelStdlibField),
        PexBinary.register_plugin_field(UnikernelStdlibKeepField),
    )
