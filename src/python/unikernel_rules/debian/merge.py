"""Merging unpacked Debian packages into one tree: `Get(MergedPackageTrees, MergePackageTrees)`.

Shared by the package trees of images and toolchains (unikernel_rules.debian.tree) and by the
build scripts' own Python (unikernel_rules.debian.tool_python). Paths that several packages ship
identically (directories, or the same file) merge; a path two packages ship differently is a
lock error that names both packages and the path (Pants' MergeDigests error names neither
package).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple, Union

from pants.engine.fs import Digest, DigestEntries, Directory, FileEntry, MergeDigests, SymlinkEntry
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.debian.lock import REGENERATE_COMMAND, DebianLockError

Entry = Union[FileEntry, SymlinkEntry, Directory]


@dataclass(frozen=True)
class MergePackageTrees:
    trees: Tuple[Tuple[str, Digest], ...]  # (package name, its unpacked tree), in lock order
    description_of_origin: str  # what the tree is for, e.g. "the kernel toolchain"


@dataclass(frozen=True)
class MergedPackageTrees:
    digest: Digest


@dataclass(frozen=True)
class Conflict:
    path: str
    first: str  # the package that shipped the path first
    second: str  # a later package shipping it differently


def first_conflict(trees: Iterable[Tuple[str, Iterable[Entry]]]) -> Optional[Conflict]:
    """The first path (in the trees' order) that two packages ship differently, if any."""
    seen: Dict[str, Tuple[str, Entry]] = {}
    for name, entries in trees:
        for entry in entries:
            old = seen.get(entry.path)
            if old is None:
                seen[entry.path] = (name, entry)
            elif old[1] != entry and not (isinstance(old[1], Directory) and isinstance(entry, Directory)):
                return Conflict(entry.path, old[0], name)
    return None


def conflict_message(conflict: Conflict, description_of_origin: str) -> str:
    return (
        f"The Debian packages {conflict.first} and {conflict.second} both ship {conflict.path} "
        f"with different contents, so they cannot form one tree for {description_of_origin}. "
        "Leave one of them out of the packages listed for it, or, if the lock holds versions "
        f"that do not belong together, re-lock with `{REGENERATE_COMMAND}`."
    )


@rule(desc="Merge unpacked Debian packages", level=LogLevel.DEBUG)
async def merge_package_trees(request: MergePackageTrees) -> MergedPackageTrees:
    try:
        return MergedPackageTrees(await Get(Digest, MergeDigests(d for _, d in request.trees)))
    except Exception as e:
        merge_error = e
    # Only on failure: find which packages collide, for the message.
    entries = await MultiGet(Get(DigestEntries, Digest, d) for _, d in request.trees)
    conflict = first_conflict(zip((name for name, _ in request.trees), entries))
    if conflict is None:
        raise merge_error
    raise DebianLockError(conflict_message(conflict, request.description_of_origin)) from merge_error


def rules():
    return collect_rules()
