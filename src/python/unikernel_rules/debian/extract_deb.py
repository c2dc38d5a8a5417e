"""Extract the data.tar of a Debian package into a directory (stdlib only, no root, no dpkg).

Usage: extract_deb.py PACKAGE.deb OUTDIR

- Regular files keep only their executable bit (Pants digests record nothing else);
  hard links become copies; directories are created; device nodes and FIFOs are skipped.
- Symlinks stay symlinks; absolute targets are rewritten relative to the link, so the tree works
  wherever it is placed (e.g. `lib64/ld-linux-x86-64.so.2 -> ../lib/x86_64-linux-gnu/...`).
- Documentation and translations are skipped: see SKIPPED_PREFIXES.
- data.tar.xz, .gz, .bz2 and uncompressed are read; .zst is refused with a clear error.
Errors are printed as one line prefixed with `UNIKERNEL_DEB_ERROR ` and exit code 2.
"""

from __future__ import annotations

import io
import os
import posixpath
import sys
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Tuple

ERROR_PREFIX = "UNIKERNEL_DEB_ERROR "
SKIPPED_PREFIXES = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
)


class DebError(Exception):
    pass


def read_data_member(f: BinaryIO) -> Tuple[str, bytes]:
    """The (name, bytes) of the `data.tar*` member of an ar archive."""
    if f.read(8) != b"!<arch>\n":
        raise DebError("not a Debian package (no ar archive header)")
    while True:
        header = f.read(60)
        if not header:
            break
        if len(header) != 60 or header[58:60] != b"`\n":
            raise DebError("corrupt ar archive header")
        name = header[0:16].decode("ascii", errors="replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        data = f.read(size)
        if size % 2:
            f.read(1)
        if name.startswith("data.tar"):
            return name, data
    raise DebError("no data.tar member in the package")


def skipped(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in SKIPPED_PREFIXES)


def _normalise(name: str) -> str:
    path = posixpath.normpath(name.lstrip("/")) if name not in ("", ".", "./") else ""
    if path in ("", "."):
        return ""
    if path == ".." or path.startswith("../"):
        raise DebError(f"member {name!r} points outside the package root")
    return path


@dataclass(frozen=True)
class Member:
    """One entry of a package's tree: a directory, a regular file or a symlink."""

    path: str  # relative to the tree's root, normalised
    kind: str  # "dir", "file" or "symlink"
    data: bytes = b""  # a file's contents
    executable: bool = False  # a file's executable bit (the only mode bit kept)
    target: str = ""  # a symlink's target, relative when the package's was absolute


def members(deb: bytes) -> Iterator[Member]:
    """The tree a Debian package installs, in archive order (see the module docstring for what
    is kept and how). Also used by rule code, in memory, to unpack the build scripts' own
    Python (unikernel_rules.debian.tool_python)."""
    member_name, data = read_data_member(io.BytesIO(deb))
    if member_name.endswith(".zst"):
        raise DebError(
            f"{member_name} is compressed with zstd, which this extractor does not read "
            "(Debian bookworm packages use xz)"
        )
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar:
            path = _normalise(member.name)
            if not path or skipped(path):
                continue
            if member.isdir():
                yield Member(path, "dir")
            elif member.issym():
                target = member.linkname
                if target.startswith("/"):
                    target = posixpath.relpath(
                        posixpath.normpath(target.lstrip("/")) or ".", posixpath.dirname(path) or "."
                    )
                yield Member(path, "symlink", target=target)
            elif member.isfile() or member.islnk():
                src = tar.extractfile(member)  # follows hard links to their target's data
                if src is None:
                    raise DebError(f"cannot read {member.name}")
                yield Member(path, "file", data=src.read(), executable=bool(member.mode & 0o111))
            # device nodes, FIFOs: skipped


def extract(deb_path: str, out_dir: str) -> int:
    with open(deb_path, "rb") as f:
        deb = f.read()
    os.makedirs(out_dir, exist_ok=True)
    count = 0
    for member in members(deb):
        dest = os.path.join(out_dir, member.path)
        if member.kind == "dir":
            os.makedirs(dest, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.lexists(dest):
            os.unlink(dest)
        if member.kind == "symlink":
            os.symlink(member.target, dest)
        else:
            with open(dest, "wb") as out:
                out.write(member.data)
            os.chmod(dest, 0o755 if member.executable else 0o644)
        count += 1
    return count


def main(argv) -> int:
    if len(argv) != 2:
        print("usage: extract_deb.py PACKAGE.deb OUTDIR", file=sys.stderr)
        return 64
    try:
        extract(argv[0], argv[1])
    except (DebError, tarfile.TarError, OSError, ValueError, EOFError) as e:
        print(f"{ERROR_PREFIX}{argv[0]}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
