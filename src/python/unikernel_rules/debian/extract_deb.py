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
from typing import BinaryIO, Tuple

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


def extract(deb_path: str, out_dir: str) -> int:
    with open(deb_path, "rb") as f:
        member_name, data = read_data_member(f)
    if member_name.endswith(".zst"):
        raise DebError(
            f"{member_name} is compressed with zstd, which this extractor does not read "
            "(Debian bookworm packages use xz)"
        )
    os.makedirs(out_dir, exist_ok=True)
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar:
            path = _normalise(member.name)
            if not path or skipped(path):
                continue
            dest = os.path.join(out_dir, path)
            parent = os.path.dirname(dest)
            if member.isdir():
                os.makedirs(dest, exist_ok=True)
                continue
            if not (member.isfile() or member.issym() or member.islnk()):
                continue  # device nodes, FIFOs
            os.makedirs(parent, exist_ok=True)
            if os.path.lexists(dest):
                os.unlink(dest)
            if member.issym():
                target = member.linkname
                if target.startswith("/"):
                    target = posixpath.relpath(
                        posixpath.normpath(target.lstrip("/")) or ".", posixpath.dirname(path) or "."
                    )
                os.symlink(target, dest)
            else:
                src = tar.extractfile(member)  # follows hard links to their target's data
                if src is None:
                    raise DebError(f"cannot read {member.name}")
                with open(dest, "wb") as out:
                    out.write(src.read())
                os.chmod(dest, 0o755 if member.mode & 0o111 else 0o644)
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
