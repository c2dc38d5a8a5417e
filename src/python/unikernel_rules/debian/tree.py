"""Locked Debian packages unpacked into one file tree: `Get(DebianTree, DebianPackagesRequest)`.

One cached process per package (extract_deb.py, run by the build scripts' own Python from the
lock: unikernel_rules.debian.tool_python), then a merge of the closure's trees
(unikernel_rules.debian.merge: a path two packages ship differently names both). The SBOM's
licences come from another process per package (deb_copyright.py), set up the same way.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from typing import Tuple

from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests, RemovePrefix
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.debian.extract_deb import ERROR_PREFIX
from unikernel_rules.debian.lock import DebianLockError, LockedDebianPackage
from unikernel_rules.debian.merge import MergedPackageTrees, MergePackageTrees
from unikernel_rules.debian.rules import (
    DebianDownloadRequest,
    DebianLock,
    DebianLockRequest,
    DebianPackagesRequest,
    DebianTree,
    DownloadedDeb,
    selected_packages,
)
from unikernel_rules.debian.tool_python import ToolPython, ToolPythonRequest

EXTRACT_SCRIPT = "extract_deb.py"


@dataclass(frozen=True)
class _DebScriptRequest:
    """Run one of this package's scripts on a locked .deb: `SCRIPT DEB ARGS...` on the locked
    Python, as one cached process."""

    package: LockedDebianPackage
    description_of_origin: str
    scripts: Tuple[str, ...]  # files of unikernel_rules.debian in the sandbox; the first one runs
    args: Tuple[str, ...]
    action: str  # "Extracting", "Reading the copyright file of": the process and its error say it
    output_files: Tuple[str, ...] = ()
    output_directories: Tuple[str, ...] = ()


@dataclass(frozen=True)
class _DebScriptResult:
    output_digest: Digest


@rule(desc="Run a script on a Debian package", level=LogLevel.DEBUG)
async def run_deb_script(request: _DebScriptRequest) -> _DebScriptResult:
    pkg = request.package
    scripts = [
        FileContent(name, importlib.resources.read_binary("unikernel_rules.debian", name))
        for name in request.scripts
    ]
    deb, python, script_digest = await MultiGet(
        Get(DownloadedDeb, DebianDownloadRequest(pkg, request.description_of_origin)),
        Get(ToolPython, ToolPythonRequest()),
        Get(Digest, CreateDigest(scripts)),
    )
    input_digest = await Get(Digest, MergeDigests([deb.digest, script_digest]))
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=python.argv(request.scripts[0], deb.path, *request.args),
            input_digest=input_digest,
            immutable_input_digests=python.immutable_input_digests,
            env=python.env(),
            output_files=request.output_files,
            output_directories=request.output_directories,
            description=f"{request.action} Debian package {pkg.name} {pkg.version}",
            level=LogLevel.DEBUG,
        ),
    )
    if result.exit_code != 0:
        stderr = result.stderr.decode(errors="replace")
        lines = [l[len(ERROR_PREFIX) :] for l in stderr.splitlines() if l.startswith(ERROR_PREFIX)]
        raise DebianLockError(
            f"{request.action} the Debian package {pkg.name} {pkg.version} (for "
            f"{request.description_of_origin}) failed: {' '.join(lines) or stderr.strip()[-2000:]}"
        )
    return _DebScriptResult(result.output_digest)


@dataclass(frozen=True)
class DebianCopyrightRequest:
    package: LockedDebianPackage
    description_of_origin: str


@dataclass(frozen=True)
class DebianCopyright:
    """`usr/share/doc/NAME/copyright` of a locked package (extraction skips documentation)."""

    digest: Digest  # the single file COPYRIGHT_FILE, or empty when the package has none


COPYRIGHT_FILE = "copyright"
COPYRIGHT_SCRIPT = "deb_copyright.py"


@rule(desc="Read a Debian package's copyright file", level=LogLevel.DEBUG)
async def deb_copyright(request: DebianCopyrightRequest) -> DebianCopyright:
    result = await Get(
        _DebScriptResult,
        _DebScriptRequest(
            request.package,
            request.description_of_origin,
            scripts=(COPYRIGHT_SCRIPT, EXTRACT_SCRIPT),  # it reads the .deb with extract_deb's code
            args=(request.package.name, COPYRIGHT_FILE),
            action="Reading the copyright file of",
            output_files=(COPYRIGHT_FILE,),
        ),
    )
    return DebianCopyright(result.output_digest)


def _extract_request(package: LockedDebianPackage, description_of_origin: str) -> _DebScriptRequest:
    return _DebScriptRequest(
        package,
        description_of_origin,
        scripts=(EXTRACT_SCRIPT,),
        args=("root",),
        action="Extracting",
        output_directories=("root",),
    )


@rule(desc="Assemble a tree of Debian packages", level=LogLevel.DEBUG)
async def debian_tree(request: DebianPackagesRequest) -> DebianTree:
    lock = await Get(DebianLock, DebianLockRequest())
    packages = selected_packages(lock, request)
    extracted = await MultiGet(
        Get(_DebScriptResult, _DebScriptRequest, _extract_request(p, request.description_of_origin))
        for p in packages
    )
    trees = await MultiGet(Get(Digest, RemovePrefix(e.output_digest, "root")) for e in extracted)
    merged = await Get(
        MergedPackageTrees,
        MergePackageTrees(
            tuple((p.name, tree) for p, tree in zip(packages, trees)), request.description_of_origin
        ),
    )
    return DebianTree(digest=merged.digest, packages=packages)


def rules():
    return collect_rules()
