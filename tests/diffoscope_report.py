"""Explain a reproducibility mismatch with diffoscope (https://diffoscope.org).

The PEX comes from `tests/tools:diffoscope` (resolve `diffoscope`, locked in
3rdparty/python/diffoscope.lock); a test that lists it in `runtime_package_dependencies` finds
it at `tests.tools/diffoscope.pex` in its sandbox. It is started with this test's own
interpreter (CPython 3.9, admitted by the resolve), not through the PEX's shebang.

diffoscope from PyPI compares text line by line and any other file as a hexdump; with host
tools it looks inside: `cpio` (initrd), `squashfs-tools` (`unsquashfs`, rootfs.img),
`xz-utils`/`zstd`/`gzip` (compressed members), `binutils` (`readelf`/`objdump` for ELF files).
build-support/setup-host.sh installs those.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

PEX_RELPATH = "tests.tools/diffoscope.pex"
DEFAULT_LIMIT = 20_000


def diffoscope_pex() -> Optional[Path]:
    here = Path.cwd()
    for candidate in (here, *here.parents):
        pex = candidate / PEX_RELPATH
        if pex.exists():
            return pex
    return None


def diffoscope_report(a: Path, b: Path, *, limit: int = DEFAULT_LIMIT, timeout: float = 600) -> str:
    """diffoscope's text report on `a` vs `b`, cut to `limit` characters (never raises)."""
    pex = diffoscope_pex()
    if pex is None:
        return f"(diffoscope not available: {PEX_RELPATH} is not in the sandbox)"
    env = dict(os.environ, PEX_ROOT=os.environ.get("PEX_ROOT", str(Path.home() / ".pex")))
    try:
        proc = subprocess.run(
            [sys.executable, str(pex), "--no-progress", "--text", "-", str(a), str(b)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return _cut(out, limit) + f"\n(diffoscope stopped after {timeout:.0f} s)"
    # Exit status: 0 identical, 1 different, 2 error.
    text = proc.stdout
    if proc.returncode not in (0, 1):
        text += f"\n(diffoscope exited {proc.returncode}: {proc.stderr.strip()[-2000:]})"
    return _cut(text, limit)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters of diffoscope output cut)"


def mismatch_report(pairs: Sequence[tuple], *, limit_each: int = DEFAULT_LIMIT // 2) -> str:
    """One diffoscope section per differing `(name, path_a, path_b)`."""
    sections = []
    for name, a, b in pairs:
        sections.append(f"==== {name} ====\n{diffoscope_report(Path(a), Path(b), limit=limit_each)}")
    return "\n".join(sections)
