"""Locked Debian packages unpacked into one file tree: `Get(DebianTree, DebianPackagesRequest)`.

One cached process per package (extract_deb.py, run by the build scripts' own Python from the
lock: unikernel_rules.debian.tool_python), then a merge of the closure's trees
(unikernel_rules.debian.merge: a path two packages ship differently names both).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass

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
class _ExtractRequest:
    package: LockedDebianPackage
    description_of_origin: str


@dataclass(frozen=True)
class _ExtractedDeb:
    digest: Digest


@rule(desc="Extract a Debian package", level=LogLevel.DEBUG)
async def extract_deb(request: _ExtractRequest) -> _ExtractedDeb:
    pkg = request.package
    script = importlib.resources.read_binary("unikernel_rules.debian", EXTRACT_SCRIPT)
    deb, python, script_digest = await MultiGet(
        Get(DownloadedDeb, DebianDownloadRequest(pkg, request.description_of_origin)),
        Get(ToolPython, ToolPythonRequest()),
        Get(Digest, CreateDigest([FileContent(EXTRACT_SCRIPT, script)])),
    )
    input_digest = await Get(Digest, MergeDigests([deb.digest, script_digest]))
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=python.argv(EXTRACT_SCRIPT, deb.path, "root"),
            input_digest=input_digest,
            immutable_input_digests=python.immutable_input_digests,
            env=python.env(),
            output_directories=("root",),
            description=f"Extracting Debian package {pkg.name} {pkg.version}",
            level=LogLevel.DEBUG,
        ),
    )
    if result.exit_code != 0:
        stderr = result.stderr.decode(errors="replace")
        lines = [l[len(ERROR_PREFIX) :] for l in stderr.splitlines() if l.startswith(ERROR_PREFIX)]
        raise DebianLockError(
            f"Extracting the Debian package {pkg.name} {pkg.version} (for "
            f"{request.description_of_origin}) failed: {' '.join(lines) or stderr.strip()[-2000:]}"
        )
    return _ExtractedDeb(await Get(Digest, RemovePrefix(result.output_digest, "root")))


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
    pkg = request.package
    scripts = [
        FileContent(name, importlib.resources.read_binary("unikernel_rules.debian", name))
        for name in (EXTRACT_SCRIPT, COPYRIGHT_SCRIPT)
    ]
    deb, python, script_digest = await MultiGet(
        Get(DownloadedDeb, DebianDownloadRequest(pkg, request.description_of_origin)),
        Get(ToolPython, ToolPythonRequest()),
        Get(Digest, CreateDigest(scripts)),
    )
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=python.argv(COPYRIGHT_SCRIPT, deb.path, pkg.name, COPYRIGHT_FILE),
            input_digest=await Get(Digest, MergeDigests([deb.digest, script_digest])),
            immutable_input_digests=python.immutable_input_digests,
            env=python.env(),
            output_files=(COPYRIGHT_FILE,),
            description=f"Reading the copyright file of Debian package {pkg.name} {pkg.version}",
            level=LogLevel.DEBUG,
        ),
    )
    if result.exit_code != 0:
        raise DebianLockError(
            f"Reading the copyright file of the Debian package {pkg.name} {pkg.version} (for "
            f"{request.description_of_origin}) failed: {result.stderr.decode(errors='replace').strip()[-2000:]}"
        )
    return DebianCopyright(result.output_digest)


@rule(desc="Assemble a tree of Debian packages", level=LogLevel.DEBUG)
async def debian_tree(request: DebianPackagesRequest) -> DebianTree:
    lock = await Get(DebianLock, DebianLockRequest())
    packages = selected_packages(lock, request)
    extracted = await MultiGet(
        Get(_ExtractedDeb, _ExtractRequest(p, request.description_of_origin)) for p in packages
    )
    merged = await Get(
        MergedPackageTrees,
        MergePackageTrees(
            tuple((p.name, e.digest) for p, e in zip(packages, extracted)), request.description_of_origin
        ),
    )
    return DebianTree(digest=merged.digest, packages=packages)


def rules():
    return collect_rules()
