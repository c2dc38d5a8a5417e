"""The Python that runs our build scripts: Debian's CPython 3.11 from the lock, never the host's.

Every script-driven process (mkinitrd, mkrootfs, the `.deb` extraction, runtime layers, ELF
closures, the Java and Python runtime steps) runs `python3.11` of this tree through the tree's
own dynamic loader, at a sandbox-relative path. So its cache key holds the locked packages'
digests and nothing of the machine: not the interpreter Pants runs on (`sys.executable`, under
the user's HOME), not the Pythons on PATH or in pyenv, not the named caches directory. Two
machines with the same lock compute the same keys (docs/remote-cache.md, "Cross-machine hits").

The tree is unpacked by rule code, in memory (unikernel_rules.debian.extract_deb.members), from
the locked `.deb` files: it cannot be unpacked by a process, whose Python it is. ~9 MB of
downloads, ~35 MB unpacked, ~1 s once per Pants process (pantsd keeps it).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Tuple, Union

from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, DigestContents, Directory, FileContent, SymlinkEntry
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from unikernel_rules.debian.extract_deb import DebError, members
from unikernel_rules.debian.lock import REGENERATE_COMMAND, DebianLockError
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
        return FrozenDict({TOOL_PYTHON_DIR: self.digest} if self.digest != EMPTY_DIGEST else {})

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


def tree_entries(debs: Iterable[Tuple[str, bytes]]) -> Tuple[Entry, ...]:
    """The merged tree of (name, .deb bytes): one entry per path. A path two packages ship with
    different contents (or kinds) is an error; directories may repeat."""
    by_path: Dict[str, Entry] = {}
    owner: Dict[str, str] = {}
    for name, deb in debs:
        try:
            unpacked = list(members(deb))
        except DebError as e:
            raise DebianLockError(f"Unpacking {name} for the build scripts' Python failed: {e}") from e
        for m in unpacked:
            if m.kind == "dir":
                entry: Entry = Directory(m.path)
            elif m.kind == "symlink":
                entry = SymlinkEntry(m.path, m.target)
            else:
                entry = FileContent(m.path, m.data, is_executable=m.executable)
            old = by_path.get(m.path)
            if old is not None and old != entry and not (isinstance(old, Directory) and isinstance(entry, Directory)):
                raise DebianLockError(
                    f"The Debian packages {owner[m.path]} and {name} both ship {m.path} with "
                    "different contents: they cannot form the build scripts' Python. "
                    f"Re-lock with `{REGENERATE_COMMAND}`."
                )
            by_path[m.path] = entry
            owner.setdefault(m.path, name)
    return tuple(by_path[p] for p in sorted(by_path))


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
    entries = tree_entries((posixpath.basename(fc.path), fc.content) for fc in contents)
    return ToolPython(await Get(Digest, CreateDigest(entries)))


def rules():
    return collect_rules()
