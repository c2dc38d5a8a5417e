"""The Debian package lock: generation (`pants generate-lockfiles --resolve=debian`) and
download of locked `.deb` files (their extraction into one tree: unikernel_rules.debian.tree).

Public API (others code against these names):
- `Get(DebianPackages, DebianPackagesRequest)`: the closure's `.deb` files;
- `Get(DebianTree, DebianPackagesRequest)`: the closure's files merged into one tree;
- `Get(DebianLock, DebianLockRequest())`: the parsed lockfile;
- `Get(DownloadedDeb, DebianDownloadRequest)`: one locked package's `.deb`, named as in the archive;
- `debian_binary_argv(tree_dir, binary)`: run an ELF of a DebianTree with the tree's own loader.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import os
import posixpath
from dataclasses import dataclass
from typing import Tuple

from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.core.goals.generate_lockfiles import (
    GenerateLockfile,
    GenerateLockfileResult,
    KnownUserResolveNames,
    KnownUserResolveNamesRequest,
    RequestedUserResolveNames,
    UserGenerateLockfiles,
    WrappedGenerateLockfile,
)
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    DownloadFile,
    FileContent,
    FileDigest,
    FileEntry,
    PathGlobs,
)
from pants.engine.process import FallibleProcessResult, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.option.global_options import GlobalOptions, GlobMatchErrorBehavior
from pants.util.logging import LogLevel

from unikernel_rules.debian.lock import (
    REGENERATE_COMMAND,
    DebianLock,
    DebianLockError,
    LockedDebianPackage,
    closure,
    deb_file_name,
    inputs_sha256,
    lock_from_generated,
    parse_lock,
    render_lock,
)
from unikernel_rules.debian.subsystem import DEBIAN_RESOLVE, DebianLockSubsystem
from unikernel_rules.subsystems.debian_tools import DebianTools
from unikernel_rules.subsystems.unikernel import DebianArchiveSubsystem

logger = logging.getLogger(__name__)

__all__ = [
    "DebianLock",
    "DebianLockError",
    "DebianLockRequest",
    "DebianPackages",
    "DebianPackagesRequest",
    "DebianTree",
    "DebianDownloadRequest",
    "DownloadedDeb",
    "LockedDebianPackage",
    "debian_binary_argv",
]

MULTIARCH_TRIPLET = "x86_64-linux-gnu"
DYNAMIC_LOADER = f"lib/{MULTIARCH_TRIPLET}/ld-linux-x86-64.so.2"
LIBRARY_DIRS = (f"lib/{MULTIARCH_TRIPLET}", f"usr/lib/{MULTIARCH_TRIPLET}", "lib", "usr/lib")
GENERATE_SCRIPT = "generate_lock.py"
PROXY_ENV_VARS = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


# ---------------------------------------------------------------------------------------------
# Public types
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DebianPackagesRequest:
    packages: Tuple[str, ...]  # roots; their closure from the lock is included
    description_of_origin: str  # e.g. "the Python runtime of //a:image" (used in errors)
    # False: exactly `packages` (a tool that needs only part of its packages' declared
    # closure, e.g. the JDK without the AWT/printing libraries of its `Depends`).
    with_dependencies: bool = True


@dataclass(frozen=True)
class DebianPackages:
    debs: Digest  # files `debs/<name>_<version>_<arch>.deb` (version with ':' replaced by '%3a')
    packages: Tuple[LockedDebianPackage, ...]  # the closure, sorted by name


@dataclass(frozen=True)
class DebianTree:
    digest: Digest  # the closure's data.tar contents merged at their root paths; symlinks kept
    packages: Tuple[LockedDebianPackage, ...]


@dataclass(frozen=True)
class DebianLockRequest:
    """Load `[debian-lock].lockfile`."""


@dataclass(frozen=True)
class DebianDownloadRequest:
    package: LockedDebianPackage
    description_of_origin: str


@dataclass(frozen=True)
class DownloadedDeb:
    digest: Digest  # one file, named like the archive's file (basename of `Filename`)
    path: str
    package: LockedDebianPackage


def debian_loader_argv(tree_dir: str) -> Tuple[str, ...]:
    """argv prefix that runs an ELF program (the next argument, any sandbox path) through the
    dynamic loader and libraries of a DebianTree placed at `tree_dir` in a sandbox
    (lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path ...), never the host's.

    `--inhibit-cache` keeps the host's /etc/ld.so.cache out. (A library missing from the tree
    would still be looked up in the loader's built-in default directories: lock it.)
    """
    tree = tree_dir.rstrip("/") or "."
    join = lambda p: posixpath.join(tree, p)  # noqa: E731
    loader = join(DYNAMIC_LOADER)
    if "/" not in loader:
        loader = "./" + loader
    return (loader, "--inhibit-cache", "--library-path", ":".join(join(d) for d in LIBRARY_DIRS))


def debian_binary_argv(tree_dir: str, binary: str) -> Tuple[str, ...]:
    """argv that runs the ELF `binary` (tree-relative, e.g. "usr/bin/mksquashfs") of a DebianTree
    placed at `tree_dir` in a sandbox, through the tree's own loader (`debian_loader_argv`)."""
    tree = tree_dir.rstrip("/") or "."
    return (*debian_loader_argv(tree_dir), posixpath.join(tree, binary.lstrip("/")))


# ---------------------------------------------------------------------------------------------
# Loading the lock
# ---------------------------------------------------------------------------------------------


@rule(desc="Load the Debian package lock", level=LogLevel.DEBUG)
async def load_debian_lock(_: DebianLockRequest, subsystem: DebianLockSubsystem) -> DebianLock:
    path = subsystem.lockfile
    contents = await Get(
        DigestContents,
        PathGlobs([path], glob_match_error_behavior=GlobMatchErrorBehavior.ignore),
    )
    if not contents:
        raise DebianLockError(
            f"The Debian lockfile {path} (`[debian-lock].lockfile`) does not exist. Create it with "
            f"`{REGENERATE_COMMAND}`: it locks the packages listed in `[debian-lock].packages`."
        )
    lock = parse_lock(contents[0].content, path)
    expected = inputs_sha256(
        subsystem.packages, subsystem.suites, subsystem.components, subsystem.architecture
    )
    if lock.inputs_sha256 != expected:
        logger.warning(
            f"The Debian lockfile {path} is stale: the `[debian-lock]` options (packages, suites, "
            f"components, architecture) changed since it was generated. Run `{REGENERATE_COMMAND}`."
        )
    return lock


# ---------------------------------------------------------------------------------------------
# Downloads
# ---------------------------------------------------------------------------------------------


@rule(desc="Download a locked Debian package", level=LogLevel.DEBUG)
async def download_deb(request: DebianDownloadRequest, archive: DebianArchiveSubsystem) -> DownloadedDeb:
    pkg = request.package
    mirror = archive.mirror_url()
    if not mirror:
        raise DebianLockError(
            f"No Debian archive is configured to download {pkg.name} (for "
            f"{request.description_of_origin}): `[debian-archive].mirror` is empty and no `deb` "
            "line was found in this machine's apt sources. Set `[debian-archive] mirror = "
            '"<base URL of a Debian archive>"` in pants.toml.'
        )
    url = f"{mirror}/{pkg.filename}"
    try:
        digest = await Get(Digest, DownloadFile(url, FileDigest(pkg.sha256, pkg.size)))
    except Exception as e:  # The engine raises a generic error for HTTP and digest failures.
        text = str(e)
        if "404" in text or "Not Found" in text:
            what = (
                f"{url} has vanished from the archive (HTTP 404): Debian removes superseded "
                "versions from its archive"
            )
        elif "digest" in text.lower() or "hash" in text.lower() or "length" in text.lower():
            what = (
                f"{url} did not match the lock ({pkg.size} bytes with sha256 {pkg.sha256}): "
                "the file was tampered with or changed on the mirror, or the lock was edited"
            )
        else:
            what = f"downloading {url} failed"
        raise DebianLockError(
            f"Fetching the Debian package {pkg.name} {pkg.version} (for "
            f"{request.description_of_origin}) failed: {what}. Re-lock with `{REGENERATE_COMMAND}` "
            "to pin the archive's current version, then retry.\n\nUnderlying error: "
            + " ".join(text.split())[:2000]
        ) from e
    return DownloadedDeb(digest=digest, path=posixpath.basename(pkg.filename), package=pkg)


def selected_packages(lock: DebianLock, request: DebianPackagesRequest) -> Tuple[LockedDebianPackage, ...]:
    packages = closure(lock, request.packages, request.description_of_origin)
    if request.with_dependencies:
        return packages
    return tuple(p for p in packages if p.name in request.packages)


@rule(desc="Fetch locked Debian packages", level=LogLevel.DEBUG)
async def debian_packages(request: DebianPackagesRequest) -> DebianPackages:
    lock = await Get(DebianLock, DebianLockRequest())
    packages = selected_packages(lock, request)
    downloads = await MultiGet(
        Get(DownloadedDeb, DebianDownloadRequest(p, request.description_of_origin)) for p in packages
    )
    all_entries = await MultiGet(Get(DigestEntries, Digest, d.digest) for d in downloads)
    files = []
    for pkg, entries in zip(packages, all_entries):
        (entry,) = [e for e in entries if isinstance(e, FileEntry)]
        files.append(FileEntry(f"debs/{deb_file_name(pkg)}", entry.file_digest))
    debs = await Get(Digest, CreateDigest(files))
    return DebianPackages(debs=debs, packages=packages)


# ---------------------------------------------------------------------------------------------
# Scripts
# ---------------------------------------------------------------------------------------------


def _script(name: str) -> bytes:
    return importlib.resources.read_binary("unikernel_rules.debian", name)


# ---------------------------------------------------------------------------------------------
# Lock generation: `pants generate-lockfiles --resolve=debian`
# ---------------------------------------------------------------------------------------------


class KnownDebianResolveNamesRequest(KnownUserResolveNamesRequest):
    pass


class RequestedDebianResolveNames(RequestedUserResolveNames):
    pass


@dataclass(frozen=True)
class GenerateDebianLockfile(GenerateLockfile):
    roots: Tuple[str, ...]
    suites: Tuple[str, ...]
    components: Tuple[str, ...]
    architecture: str


@rule
def known_debian_resolve_names(_: KnownDebianResolveNamesRequest) -> KnownUserResolveNames:
    return KnownUserResolveNames(
        names=(DEBIAN_RESOLVE,),
        option_name="[debian-lock].lockfile",
        requested_resolve_names_cls=RequestedDebianResolveNames,
    )


@rule
def setup_debian_lockfile_request(
    requested: RequestedDebianResolveNames, subsystem: DebianLockSubsystem
) -> UserGenerateLockfiles:
    return UserGenerateLockfiles(
        GenerateDebianLockfile(
            resolve_name=DEBIAN_RESOLVE,
            lockfile_dest=subsystem.lockfile,
            diff=False,
            roots=tuple(sorted(set(subsystem.packages))),
            suites=tuple(subsystem.suites),
            components=tuple(subsystem.components),
            architecture=subsystem.architecture,
        )
        for _ in requested
    )


@rule
def wrap_debian_lockfile_request(request: GenerateDebianLockfile) -> WrappedGenerateLockfile:
    return WrappedGenerateLockfile(request)


@rule(desc="Generate the Debian package lock", level=LogLevel.DEBUG)
async def generate_debian_lockfile(
    request: GenerateDebianLockfile,
    tools: DebianTools,
    archive: DebianArchiveSubsystem,
    global_options: GlobalOptions,
) -> GenerateLockfileResult:
    if not request.roots:
        raise DebianLockError("`[debian-lock].packages` is empty: list the Debian packages to lock.")
    mirror = archive.mirror_url()
    if not mirror:
        raise DebianLockError(
            "No Debian archive is configured to lock Debian packages from: "
            "`[debian-archive].mirror` is empty and no `deb` line was found in this machine's apt "
            'sources. Set `[debian-archive] mirror = "<base URL of a Debian archive>"` in pants.toml.'
        )
    tool, script, proxies = await MultiGet(
        Get(VenvPex, PexRequest, tools.to_pex_request()),
        Get(Digest, CreateDigest([FileContent(GENERATE_SCRIPT, _script(GENERATE_SCRIPT))])),
        Get(EnvironmentVars, EnvironmentVarsRequest(PROXY_ENV_VARS)),
    )
    env = dict(proxies)
    ca_certs = global_options.ca_certs_path
    if ca_certs and os.path.isabs(ca_certs):
        env["SSL_CERT_FILE"] = ca_certs  # only used for https mirrors
    argv = ["--mirror", mirror, "--arch", request.architecture, "--out", "packages.json"]
    for s in request.suites:
        argv += ["--suite", s]
    for c in request.components:
        argv += ["--component", c]
    result = await Get(
        FallibleProcessResult,
        VenvPexProcess(
            tool,
            argv=(GENERATE_SCRIPT, *argv, *request.roots),
            input_digest=script,
            output_files=("packages.json",),
            extra_env=env,
            description=(
                f"Resolving the closure of {len(request.roots)} Debian packages from "
                f"{', '.join(request.suites)} ({request.architecture})"
            ),
            level=LogLevel.INFO,
            # The archive changes over time: never reuse a lock computed in another session.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    if result.exit_code != 0:
        stderr = result.stderr.decode(errors="replace")
        lines = [
            l.split(" ", 1)[1] for l in stderr.splitlines() if l.startswith("UNIKERNEL_DEBIAN_LOCK_ERROR ")
        ]
        raise DebianLockError(
            "Locking the Debian packages of `[debian-lock].packages` failed: "
            + (" ".join(lines) or stderr.strip()[-3000:])
        )
    contents = await Get(DigestContents, Digest, result.output_digest)
    generated = json.loads(contents[0].content)["packages"]
    lock = lock_from_generated(
        request.lockfile_dest,
        generated,
        requested=request.roots,
        suites=request.suites,
        components=request.components,
        architecture=request.architecture,
    )
    digest = await Get(
        Digest, CreateDigest([FileContent(request.lockfile_dest, render_lock(lock).encode())])
    )
    return GenerateLockfileResult(digest, request.resolve_name, request.lockfile_dest)


def rules():
    return [
        *collect_rules(),
        *DebianLockSubsystem.rules(),
        UnionRule(GenerateLockfile, GenerateDebianLockfile),
        UnionRule(KnownUserResolveNamesRequest, KnownDebianResolveNamesRequest),
        UnionRule(RequestedUserResolveNames, RequestedDebianResolveNames),
    ]
