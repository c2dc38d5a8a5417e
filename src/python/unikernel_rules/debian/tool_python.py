"""The Python that runs our build scripts: Debian's CPython 3.11 from the lock, never the host's.

Every script-driven process (mkinitrd, mkrootfs, the `.deb` extraction, runtime layers, ELF
closures, the Java and Python runtime steps) runs `python3.11` of this tree through the tree's
own dynamic loader, at a sandbox-relative path. So its cache key holds the locked packages'
digests and nothing of the machine: not the interpreter Pants runs on (`sys.executable`, under
the user's HOME), not the Pythons on PATH or in pyenv, not the named caches directory. Two
machines with the same lock compute the same keys (docs/remote-cache.md, "Cross-machine hits").

The tree is unpacked by rule code, in memory (unikernel_rules.debian.extract_deb.members), from
the locked `.deb` files: it cannot be unpacked by a process, whose Python it is. 7.9 MB of
downloads, 985 entries and 33.7 MB unpacked; `members()` takes 0.8 s for all nine (measured on a
2-core machine at load 4.5), once per Pants process (pantsd keeps the digest). Each package
becomes a digest and the nine merge like any package tree (unikernel_rules.debian.merge).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Tuple, Union

from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, DigestContents, Directory, FileContent, SymlinkEntry
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from unikernel_rules.debian.extract_deb import DebError, members
from unikernel_rules.debian.lock import DebianLockError
from unikernel_rules.debian.merge import MergedPackageTrees, MergePackageTrees
from unikernel_rules.debian.rules import DebianPackages, DebianPackagesRequest, debian_binary_argv

# Exactly these packages (not their whole declared closure: no readline, ncurses, sqlite,
# Kerberos). All are in the closure of the default `[debian-lock].packages` roots
# python3.11-minimal and libpython3.11-stdlib. The stdlib modules our scripts use (tarfile, lzma,
# zipfile, zlib, bz2, json, hashlib with its builtin sha256, struct) load from these.
TOOL_PYTHON_PACKAGES = (
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libc6",
    "libgcc-s1",
    "zlib1g",
    "libexpat1",
    "liblzma5",
    "libbz2-1.0",
)
# Where the tree appears in each sandbox (an immutable input: symlinked, not copied).
TOOL_PYTHON_DIR = "__unikernel_python"
PROGRAM = "usr/bin/python3.11"


@dataclass(frozen=True)
class ToolPythonRequest:
    pass


@dataclass(frozen=True)
class ToolPython:
    digest: Digest  # the unpacked packages, at their root paths (placed at TOOL_PYTHON_DIR)
    # The interpreter's argv: python3.11 of the tree through the tree's loader (unit tests of
    # rules that need no archive may give the host's Python here, with an empty digest).
    interpreter: Tuple[str, ...] = debian_binary_argv(TOOL_PYTHON_DIR, PROGRAM)

    def argv(self, *args: str) -> Tuple[str, ...]:
        """`python3.11 -S -B ARGS` (-S: no site-packages of the tree; -B: no .pyc in the
        sandbox)."""
        return (*self.interpreter, "-S", "-B", *args)

    @property
    def immutable_input_digests(self) -> Mapping[str, Digest]:
        return self.immutable_input_digests_with()

    def immutable_input_digests_with(self, *others: Mapping[str, Digest]) -> Mapping[str, Digest]:
        """The tree's immutable input plus `others` (e.g. `ToolWheels.immutable_input_digests`)."""
        merged = {TOOL_PYTHON_DIR: self.digest} if self.digest != EMPTY_DIGEST else {}
        for other in others:
            merged.update(other)
        return FrozenDict(merged)

    @staticmethod
    def env(python_path: Iterable[str] = (), extra: Mapping[str, str] = FrozenDict()) -> Dict[str, str]:
        """A fixed environment: hash seed and UTF-8 mode pinned; `python_path`: sandbox-relative
        directories for PYTHONPATH (e.g. unpacked wheels); `extra`: the caller's own."""
        env = {"PYTHONHASHSEED": "0", "PYTHONUTF8": "1"}
        paths = tuple(python_path)
        if paths:
            env["PYTHONPATH"] = ":".join(paths)
        env.update(extra)
        return env


Entry = Union[FileContent, SymlinkEntry, Directory]


def deb_entries(name: str, deb: bytes) -> Tuple[Entry, ...]:
    """The tree one `.deb` installs, as CreateDigest entries."""
    try:
        unpacked = list(members(deb))
    except DebError as e:
        raise DebianLockError(f"Unpacking {name} for the build scripts' Python failed: {e}") from e
    return tuple(
        Directory(m.path)
        if m.kind == "dir"
        else SymlinkEntry(m.path, m.target)
        if m.kind == "symlink"
        else FileContent(m.path, m.data, is_executable=m.executable)
        for m in unpacked
    )


@rule(desc="Unpack the build scripts' Python (Debian's CPython from the lock)", level=LogLevel.DEBUG)
async def tool_python(_: ToolPythonRequest) -> ToolPython:
    packages = await Get(
        DebianPackages,
        DebianPackagesRequest(
            TOOL_PYTHON_PACKAGES,
            "the Python that runs unikernel_rules' build scripts",
            with_dependencies=False,
        ),
    )
    contents = await Get(DigestContents, Digest, packages.debs)
    # `debs/<name>_<version>_<arch>.deb`: the package name, as debian/tree.py's merge names it
    # (Debian package names hold no "_": Policy 5.6.1).
    names = [posixpath.basename(fc.path).split("_", 1)[0] for fc in contents]
    trees = await MultiGet(
        Get(Digest, CreateDigest(deb_entries(name, fc.content))) for name, fc in zip(names, contents)
    )
    merged = await Get(
        MergedPackageTrees,
        MergePackageTrees(tuple(zip(names, trees)), "the Python that runs unikernel_rules' build scripts"),
    )
    return ToolPython(merged.digest)


def rules():
    return collect_rules()
