"""Run zig from its locked wheel, unpacked once per machine into a named cache (stdlib only).

Usage: zig_launcher.py WHEEL_ZIP UNPACK_DIR ZIG_ARGS...

WHEEL_ZIP is the ziglang wheel as pex's packed layout stores it (a zip with the files' modes);
UNPACK_DIR (in the `unikernel_zig` named cache, a name holding the zip's sha256) receives its
files once, atomically (unpacked beside it, then renamed; a process that loses the race drops
its copy). Then this process becomes `UNPACK_DIR/ziglang/zig ZIG_ARGS...`.

Why a stable directory: zig's own cache of compiled libc objects (ZIG_GLOBAL_CACHE_DIR) is
keyed by the absolute paths of zig's lib directory; a zig run from a per-process path (Pants'
immutable inputs) would rebuild musl (~1,400 objects, 1-2 min) in every Pants process. The
directory's absolute path is outside every cache key (only the relative name is in argv).
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile

ZIG = ("ziglang", "zig")


def unpack(wheel: str, dest: str) -> None:
    tmp = f"{dest}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            path = z.extract(info, tmp)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(path, mode)
    try:
        os.rename(tmp, dest)
    except OSError:  # another process unpacked it first
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv) -> None:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    wheel, dest, args = argv[0], argv[1], argv[2:]
    zig = os.path.join(dest, *ZIG)
    if not os.access(zig, os.X_OK):
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        unpack(wheel, dest)
    os.execv(zig, [zig, *args])


if __name__ == "__main__":
    main(sys.argv[1:])
