"""Where an image's extra files go in the guest, and which dependencies an image can use.

A `unikernel_image` depends on one app plus, optionally, files:
- `files`/`file`: under `/app` at their repository path;
- `resources`/`resource`: under `/app` at their path relative to their source root;
- `relocated_files`: under `/app` at their relocated path (Pants' codegen applies `src`/`dest`);
- `unikernel_files`: at `destination` (an absolute guest directory) + their path relative to
  their BUILD file.
`unikernel_kernel` targets are accepted (and ignored: the `kernel` field picks the kernel). Any
other dependency is an error: it would otherwise be silently left out of the image. Two
dependencies (the app included) placing a file at the same guest path are an error too.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from pants.core.target_types import (
    FileSourceField,
    RelocatedFilesDestField,
    RelocatedFilesSourcesField,
    ResourceSourceField,
)
from pants.core.util_rules.source_files import SourceFilesRequest
from pants.core.util_rules.stripped_source_files import StrippedSourceFiles
from pants.engine.addresses import Address
from pants.engine.fs import (
    AddPrefix,
    Digest,
    DigestEntries,
    FileEntry,
    MergeDigests,
    RemovePrefix,
    Snapshot,
    SymlinkEntry,
)
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    DependenciesRequest,
    HydratedSources,
    HydrateSourcesRequest,
    InvalidFieldException,
    SourcesField,
    Target,
    Targets,
)
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.runtimes.api import APP_DIR
from unikernel_rules.target_types import (
    UnikernelFilesDestinationField,
    UnikernelFilesSourcesField,
    UnikernelImageDependenciesField,
    UnikernelKernelTarget,
    climbs_out,
)

USABLE = (
    "the app (`c_program`, `pex_binary` or `java_program`), `files`/`file`, "
    "`resources`/`resource`, `relocated_files`, `unikernel_files` and `unikernel_kernel`"
)


class PlacementError(Exception):
    """An image's dependencies cannot be placed in the guest: shown without a traceback."""


@dataclass(frozen=True)
class ImageFilesRequest:
    """Place the files of an image's `dependencies` around its app's files."""

    image: Address
    dependencies: UnikernelImageDependenciesField
    app: Address  # the one app target among the dependencies
    app_digest: Digest  # the app's files at their guest paths (no leading `/`)


@dataclass(frozen=True)
class PlacedFile:
    path: str  # guest path without the leading `/`
    owner: Address


@dataclass(frozen=True)
class ImageFiles:
    # The app's files and every placed file, at their guest paths (no leading `/`).
    digest: Digest
    # The placed files (not the app's), sorted by path.
    placed: Tuple[PlacedFile, ...]


def relocated_dest_problem(dest: str) -> Optional[str]:
    """Why a `relocated_files` `dest` would put files outside the image's /app, or None."""
    if dest.startswith("/"):
        return "it is absolute, but the paths of `relocated_files` are relative to `/app`"
    if climbs_out(dest):
        return "its `..` climbs out of the image's `/app` directory"
    return None


def _check_relocated(image: Address, target: Target) -> None:
    dest = target[RelocatedFilesDestField].value or ""
    problem = relocated_dest_problem(dest)
    if problem:
        raise InvalidFieldException(
            softwrap(
                f"""
                The `dest` field of the `relocated_files` {target.address} (a dependency of the
                `unikernel_image` {image}) is {dest!r}, which places files outside the image's
                `/app` directory: {problem}. Use a relative `dest` such as `dest="scripts"`
                (files land in `/app/scripts/`), or, for an absolute guest path such as
                `/etc/myapp`, a `unikernel_files(sources=[...], destination="/etc/myapp")`
                target.
                """
            )
        )


def _unusable_error(image: Address, targets: Iterable[Target]) -> PlacementError:
    listed = "; ".join(f"{t.address} (a `{t.alias}` target)" for t in targets)
    return PlacementError(
        softwrap(
            f"""
            The `dependencies` field of the `unikernel_image` {image} names targets that an
            image cannot use: {listed}. An image uses only {USABLE} targets. Remove them from
            the image's `dependencies`: code and libraries the app needs belong in the app
            target's own `dependencies`; files for the guest go through `files`,
            `relocated_files` (a path under `/app`) or `unikernel_files` (an absolute path such
            as `/etc/myapp`).
            """
        )
    )


def _conflict_error(image: Address, path: str, first: str, second: str) -> PlacementError:
    return PlacementError(
        softwrap(
            f"""
            Two dependencies of the `unikernel_image` {image} place files at the guest path
            /{path}: {first} and {second}. Each guest path must come from one target: remove
            the file from one of them, or move one elsewhere with `relocated_files` or
            `unikernel_files`.
            """
        )
    )


def check_no_conflicts(
    image: Address, app: Address, app_paths: Iterable[str], placed: Iterable[PlacedFile]
) -> None:
    """Each guest path comes from one target, and no file sits where another needs a directory."""
    leaves: Dict[str, str] = {}
    dirs: Dict[str, str] = {}

    def add(path: str, owner: str) -> None:
        if path in leaves and leaves[path] != owner:
            raise _conflict_error(image, path, leaves[path], owner)
        if path in dirs:
            raise _conflict_error(
                image, path, f"{dirs[path]} (a directory there)", f"{owner} (a file there)"
            )
        parent = posixpath.dirname(path)
        while parent:
            if parent in leaves:
                raise _conflict_error(
                    image, parent, f"{leaves[parent]} (a file there)", f"{owner} (a directory there)"
                )
            dirs.setdefault(parent, owner)
            parent = posixpath.dirname(parent)
        leaves[path] = owner

    app_owner = f"{app} (the app)"
    for path in app_paths:
        add(path, app_owner)
    for f in placed:
        add(f.path, str(f.owner))


async def _at_destination(
    targets: Iterable[Target], hydrated: Iterable[HydratedSources]
) -> Tuple[Snapshot, ...]:
    """`unikernel_files`: each file at `destination` + its path relative to the BUILD file."""
    pairs = tuple(zip(targets, hydrated))
    relative = await MultiGet(
        Get(Digest, RemovePrefix(h.snapshot.digest, t.address.spec_path or "."))
        for t, h in pairs
    )
    return await MultiGet(
        Get(Snapshot, AddPrefix(d, t[UnikernelFilesDestinationField].value.lstrip("/") or "."))
        for (t, _), d in zip(pairs, relative)
    )


@rule(desc="Place an image's files", level=LogLevel.DEBUG)
async def place_image_files(request: ImageFilesRequest) -> ImageFiles:
    deps = await Get(Targets, DependenciesRequest(request.dependencies))
    files: List[Target] = []
    resources: List[Target] = []
    guest: List[Target] = []
    unusable: List[Target] = []
    for t in deps:
        if t.address == request.app or isinstance(t, UnikernelKernelTarget):
            continue
        if t.has_field(FileSourceField):
            files.append(t)
        elif t.has_field(RelocatedFilesSourcesField):
            _check_relocated(request.image, t)
            files.append(t)
        elif t.has_field(ResourceSourceField):
            resources.append(t)
        elif t.has_field(UnikernelFilesSourcesField):
            guest.append(t)
        else:
            unusable.append(t)
    if unusable:
        raise _unusable_error(request.image, unusable)

    # Hydrated one target at a time, so that a conflict can name the targets.
    # `relocated_files` are codegen: their sources are the relocated `files`.
    hydrated_files = await MultiGet(
        Get(
            HydratedSources,
            HydrateSourcesRequest(
                t[SourcesField], for_sources_types=(FileSourceField,), enable_codegen=True
            ),
        )
        for t in files
    )
    stripped_resources = await MultiGet(
        Get(
            StrippedSourceFiles,
            SourceFilesRequest([t[ResourceSourceField]], for_sources_types=(ResourceSourceField,)),
        )
        for t in resources
    )
    hydrated_guest = await MultiGet(
        Get(HydratedSources, HydrateSourcesRequest(t[UnikernelFilesSourcesField])) for t in guest
    )
    under_app = await MultiGet(
        Get(Snapshot, AddPrefix(d, APP_DIR))
        for d in (
            *(h.snapshot.digest for h in hydrated_files),
            *(s.snapshot.digest for s in stripped_resources),
        )
    )
    at_destination = await _at_destination(guest, hydrated_guest)
    owners = (*files, *resources, *guest)
    snapshots = (*under_app, *at_destination)
    placed = tuple(
        sorted(
            (PlacedFile(path, t.address) for t, s in zip(owners, snapshots) for path in s.files),
            key=lambda f: (f.path, f.owner.spec),
        )
    )
    app_entries = await Get(DigestEntries, Digest, request.app_digest)
    app_paths = (e.path for e in app_entries if isinstance(e, (FileEntry, SymlinkEntry)))
    check_no_conflicts(request.image, request.app, app_paths, placed)
    digest = await Get(
        Digest, MergeDigests([request.app_digest, *(s.digest for s in snapshots)])
    )
    return ImageFiles(digest, placed)


def rules():
    return collect_rules()
