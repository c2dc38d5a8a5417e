"""`Get(Sbom, SbomRequest)`: the image's SPDX 2.3 document (`sbom.spdx.json`), one cached process
(sbom/spdx.py on the locked Python, with python-debian for Debian's copyright files).

The Debian packages' file lists come from their unpacked trees' digests (path and sha256 of
every file, without reading a byte); only each package's copyright file is read. The process
hashes every file of the image (SPDX wants SHA-1 beside SHA-256) and decides its origin.
"""

from __future__ import annotations

from dataclasses import dataclass
import posixpath
from typing import Iterable, Tuple

from pants.engine.addresses import Address
from pants.engine.fs import (
    EMPTY_DIGEST,
    FileContent,
    AddPrefix,
    CreateDigest,
    Digest,
    DigestEntries,
    FileEntry,
    SymlinkEntry,
    MergeDigests,
)
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from unikernel_rules.debian.lock import LockedDebianPackage
from unikernel_rules.debian.rules import DebianPackagesRequest, DebianTree
from unikernel_rules.debian.tree import COPYRIGHT_FILE, DebianCopyright, DebianCopyrightRequest
from unikernel_rules.init.rules import init_sources
from unikernel_rules.kernel.rules import BuiltKernel
from unikernel_rules.rootfs.rules import COMPLETE_SENTINEL, INIT_CONF, INIT_PATH
from unikernel_rules.rootfs.layer_rules import LayerBuildError, outputs_and_report, run_tool_script, tool_errors
from unikernel_rules.sbom.api import Provenance
from unikernel_rules.subsystems.debian_tools import DebianTools

SBOM_FILE = "sbom.spdx.json"
SBOM_MEDIA_TYPE = "application/spdx+json"
SBOM_SCRIPTS = (("unikernel_rules.sbom", "spdx.py"),)


@dataclass(frozen=True)
class SbomRequest:
    address: Address
    app_address: Address
    runtime: str
    root: Digest  # the guest's root tree (app, runtime, /etc) at guest paths
    init: Digest  # the file `init` (the guest's /init)
    init_conf: str  # the initramfs' init.conf, as packed
    bundle: Digest  # kernel, initrd, cmdline (and rootfs.img): the bundle's files
    provenance: Provenance
    kernel: BuiltKernel


@dataclass(frozen=True)
class Sbom:
    digest: Digest  # the single file SBOM_FILE
    files: int
    packages: int
    origins: Tuple[Tuple[str, int], ...]  # (origin kind, files)

    def manifest_entry(self) -> dict:
        return {
            "file": SBOM_FILE,
            "format": "SPDX-2.3",
            "media_type": SBOM_MEDIA_TYPE,
            "files": self.files,
            "packages": self.packages,
            "origins": dict(self.origins),
        }


async def _single(digest: Digest) -> Tuple[str, ...]:
    return tuple(e.path for e in await Get(DigestEntries, Digest, digest) if isinstance(e, FileEntry))


@dataclass(frozen=True)
class _PackageFilesRequest:
    package: LockedDebianPackage
    description_of_origin: str


@dataclass(frozen=True)
class _PackageFiles:
    files: FrozenDict[str, str]  # path -> sha256
    copyright: Digest  # the file COPYRIGHT_FILE, or empty
    has_copyright: bool


def package_file_digests(entries: Iterable) -> FrozenDict[str, str]:
    """path -> sha256 of a package's files; a symlink to one of its files counts as that file
    (a runtime may copy the file's bytes to the link's path); one to another package's file is
    the package's path with no digest ("": a `.pyc` compiled from it is still the package's)."""
    files = {e.path: e.file_digest.fingerprint for e in entries if isinstance(e, FileEntry)}
    for e in entries:
        if isinstance(e, SymlinkEntry):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(e.path), e.target))
            files[e.path] = files.get(target, "")
    return FrozenDict(files)


@rule(desc="List a Debian package's files for an SBOM", level=LogLevel.DEBUG)
async def package_files(request: _PackageFilesRequest) -> _PackageFiles:
    """The package's files (their digests, without reading a byte) and its copyright file."""
    package, origin = request.package, request.description_of_origin
    tree, copyright = await MultiGet(
        Get(DebianTree, DebianPackagesRequest((package.name,), origin, with_dependencies=False)),
        Get(DebianCopyright, DebianCopyrightRequest(package, origin)),
    )
    entries = await Get(DigestEntries, Digest, tree.digest)
    return _PackageFiles(package_file_digests(entries), copyright.digest, bool(await _single(copyright.digest)))


@rule(desc="Write an image's SBOM", level=LogLevel.DEBUG)
async def build_sbom(request: SbomRequest, tools: DebianTools) -> Sbom:
    prov = request.provenance
    origin = f"the SBOM of {request.address}"
    source = request.kernel.source_package
    packages = {p.name: p for p in prov.debian}
    names = sorted(packages)
    per_package = await MultiGet(Get(_PackageFiles, _PackageFilesRequest(packages[n], origin)) for n in names)
    copyrights = await MultiGet(Get(Digest, AddPrefix(p.copyright, f"copyright/{n}")) for n, p in zip(names, per_package))
    init_digest, extra, bundle_files = await MultiGet(
        Get(Digest, CreateDigest(init_sources())),
        Get(Digest, CreateDigest([FileContent(f"extra/{INIT_CONF}", request.init_conf.encode()), FileContent(f"extra/{COMPLETE_SENTINEL}", b"")])),
        Get(DigestEntries, Digest, request.bundle),
    )
    init_file = await Get(Digest, AddPrefix(request.init, "extra"))
    bundle_files = [e.path for e in bundle_files if isinstance(e, FileEntry)]
    kernel_config = await Get(DigestEntries, Digest, request.kernel.config)
    config_sha256 = next(e.file_digest.fingerprint for e in kernel_config if isinstance(e, FileEntry))
    spec = {
        "root": "root",
        "extra": [
            {"path": INIT_PATH, "file": f"extra/{INIT_PATH}", "origin": "init"},
            {"path": INIT_CONF, "file": f"extra/{INIT_CONF}", "origin": "build"},
            {"path": COMPLETE_SENTINEL, "file": f"extra/{COMPLETE_SENTINEL}", "origin": "build"},
        ],
        "bundle": [{"name": n, "file": f"bundle/{n}", "origin": "kernel" if n == "kernel" else "image"} for n in sorted(bundle_files)],
        "debian": [
            {
                "name": n,
                "version": packages[n].version,
                "architecture": packages[n].architecture,
                "sha256": packages[n].sha256,
                "files": dict(p.files),
                "copyright": f"copyright/{n}/{COPYRIGHT_FILE}" if p.has_copyright else None,
            }
            for n, p in zip(names, per_package)
        ]
        # The kernel's source package: only named (its files are not in the image, and
        # unpacking its 140 MB source tarball for a licence the kernel states would be waste).
        + (
            [{"name": source.name, "version": source.version, "architecture": source.architecture,
              "sha256": source.sha256, "files": {}, "copyright": None}]
            if source and source.name not in packages
            else []
        ),
        "derived": dict(prov.derived),
        "python": [
            {"name": d.name, "version": d.version, "artifact": d.artifact, "sha256": d.sha256, "lockfile": d.lockfile}
            for d in prov.python
        ],
        "jars": [{"path": j.path, "coordinate": j.coordinate, "sha256": j.sha256, "label": j.label} for j in prov.jars],
        "sources": "sources" if prov.sources != EMPTY_DIGEST else None,
        "built_from_sources": list(prov.built_from_sources),
        "init_sources": "init_sources",
        "kernel": {
            "release": request.kernel.release,
            "version": request.kernel.version,
            "config_sha256": config_sha256,
            "fragments": list(request.kernel.fragments),
            "source": {"name": source.name, "version": source.version} if source else None,
        },
        "image": {"target": str(request.address), "app": str(request.app_address), "runtime": request.runtime},
        "out": f"out/{SBOM_FILE}",
        "report": "report/sbom.json",
    }
    inputs = await MultiGet(
        Get(Digest, AddPrefix(request.root, "root")),
        Get(Digest, AddPrefix(request.bundle, "bundle")),
        Get(Digest, AddPrefix(prov.sources, "sources")),
        Get(Digest, AddPrefix(init_digest, "init_sources")),
    )
    input_digest = await Get(Digest, MergeDigests([*inputs, *copyrights, extra, init_file]))
    result = await run_tool_script(
        tools,
        "spdx.py",
        spec,
        input_digest,
        ("out", "report"),
        f"Writing the SBOM of {request.address}",
        scripts=SBOM_SCRIPTS,
    )
    if result.exit_code != 0:
        raise LayerBuildError(f"Writing the SBOM of {request.address} failed:\n" + tool_errors(result, "UNIKERNEL_SBOM_ERROR"))
    digest, report = await outputs_and_report(result.output_digest, "report/sbom.json")
    return Sbom(digest, report["files"], report["packages"], tuple(sorted(report["origins"].items())))


def rules():
    return collect_rules()
