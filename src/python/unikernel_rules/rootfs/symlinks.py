"""Following symlinks through a digest's entries (guest paths without the leading `/`)."""

from __future__ import annotations

import posixpath
from typing import Mapping, Optional, Tuple

from pants.engine.fs import SymlinkEntry

MAX_LINKS = 16


def link_target(link: str, target: str) -> str:
    """The path a symlink at `link` pointing to `target` names (no leading `/`)."""
    if target.startswith("/"):
        return posixpath.normpath(target).lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(link), target))


def follow(entries: Mapping[str, object], path: str) -> Tuple[Optional[object], str]:
    """Follow the symlinks of `path` (up to 16), also symlinked parent directories (e.g.
    Debian's usr-merge `bin -> usr/bin`): the final entry (None if there is none) and its path."""
    for _ in range(MAX_LINKS):
        entry = entries.get(path)
        if isinstance(entry, SymlinkEntry):
            path = link_target(path, entry.target)
            continue
        if entry is not None:
            return entry, path
        parts = path.split("/")
        for i in range(len(parts) - 1, 0, -1):
            base = "/".join(parts[:i])
            parent = entries.get(base)
            if isinstance(parent, SymlinkEntry):
                path = posixpath.join(link_target(base, parent.target), *parts[i:])
                break
        else:
            return None, path
    return None, path
