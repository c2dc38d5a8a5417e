"""Write a Debian package's copyright file (`usr/share/doc/NAME/copyright`, which extraction
skips with the rest of the documentation) for the image's SBOM. Stdlib only; shipped into the
sandbox beside extract_deb.py, whose .deb reader it uses.

Usage: deb_copyright.py PACKAGE.deb NAME OUTFILE   (no OUTFILE written when the package has none)
"""

from __future__ import annotations

import io
import sys
import tarfile

from extract_deb import ERROR_PREFIX, DebError, read_data_member  # pants: no-infer-dep (shipped beside it)


def copyright_of(deb: bytes, name: str) -> bytes | None:
    member_name, data = read_data_member(io.BytesIO(deb))
    if member_name.endswith(".zst"):
        raise DebError(f"{member_name} is compressed with zstd, which this reader does not read")
    wanted = f"usr/share/doc/{name}/copyright"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar:
            if member.name.lstrip("./") == wanted and (member.isfile() or member.islnk()):
                src = tar.extractfile(member)
                return src.read() if src else None
    return None


def main(argv) -> int:
    if len(argv) != 3:
        print("usage: deb_copyright.py PACKAGE.deb NAME OUTFILE", file=sys.stderr)
        return 64
    try:
        with open(argv[0], "rb") as f:
            found = copyright_of(f.read(), argv[1])
    except (DebError, tarfile.TarError, OSError, ValueError, EOFError) as e:
        print(f"{ERROR_PREFIX}{argv[0]}: {e}", file=sys.stderr)
        return 2
    if found is not None:
        with open(argv[2], "wb") as out:
            out.write(found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
