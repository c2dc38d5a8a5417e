"""Cold kernel build: the locked Debian toolchain (chrooted, as `pants package` builds it) vs
the host's toolchain, in one run on one machine; and whether both give the same bytes.

    ./pants run tests/benchmarks:kernel-toolchain     # ~20 min on 2 cores; needs the host's
                                                      # gcc, make, flex, bison, bc, perl, libelf-dev

1. In a temporary copy of the repository, `pants package` of the C example with no cache at all
   and `--keep-sandboxes=always`: Pants builds the kernel with the locked toolchain (its
   process's wall time is read from Pants' log: "Starting:" to "Completed:").
2. The kept sandbox of that process holds exactly its inputs: the same `build/` directory (the
   source package, the fragments, build_kernel.sh) is copied out and built by the host's
   toolchain: `bash build_kernel.sh` with the same arguments and environment (PATH=/usr/bin:/bin,
   the pinned KBUILD_* values), no chroot.
3. Both `out/kernel` files are compared byte for byte.

The figures go to `$TMPDIR/unikernel-rules-kernel-toolchain.json` and into the "Kernel
toolchain" section of docs/benchmarks.md (rendered again by every `tests/benchmarks:report` run).
Both builds run one after the other with the same job count, so a change of machine load
between them is the figures' noise; the report says the load average at each start.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import figures as figures_file
from benchmarks import sections
from pants_repo import RepoCopy

IMAGE = "testprojects/c/hello_http:image"
KERNEL = "Building the Linux"
FIGURES = "unikernel-rules-kernel-toolchain.json"
HEADING = "## Kernel toolchain: locked vs host"
GOAL_RATIO = 1.15


def read_figures(path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    return figures_file.read_figures(FIGURES, path)


def _seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def kernel_wall_s(log: str) -> Optional[float]:
    """Wall time of the kernel process from Pants' `HH:MM:SS.ss [INFO] Starting:/Completed:` lines."""
    start = re.search(rf"^(\d\d:\d\d:\d\d\.\d+) \[INFO\] Starting: {KERNEL}", log, re.M)
    end = re.search(rf"^(\d\d:\d\d:\d\d\.\d+) \[INFO\] Completed: {KERNEL}", log, re.M)
    if not (start and end):
        return None
    wall = _seconds(end.group(1)) - _seconds(start.group(1))
    return wall + 86400 if wall < 0 else wall


_TOKEN = re.compile(r"\$'((?:[^'\\]|\\.)*)'|'([^']*)'|(\S+)")


def shell_words(line: str) -> List[str]:
    """The words of a `__run.sh` command line (Pants quotes them as $'...')."""
    words = []
    for ansi, single, bare in _TOKEN.findall(line):
        if bare:
            words.append(bare)
        elif single or not ansi:
            words.append(single)
        else:
            words.append(re.sub(r"\\(.)", r"\1", ansi))
    return words


def host_build_command(run_sh: str) -> Tuple[Dict[str, str], List[str]]:
    """(env, build_kernel.sh arguments) of the locked kernel process, from its `__run.sh`:
    `env -i ... ./toolchain_sandbox -e K=V ... tree /build /bin/bash /build/build_kernel.sh ARGS`."""
    line = next(l for l in run_sh.splitlines() if "toolchain_sandbox" in l)
    words = shell_words(line)
    i = next(i for i, w in enumerate(words) if w.endswith("toolchain_sandbox")) + 1
    env: Dict[str, str] = {}
    while words[i] == "-e":
        key, _, value = words[i + 1].partition("=")
        env[key] = value
        i += 2
    script = next(j for j in range(i, len(words)) if words[j].endswith("build_kernel.sh"))
    return env, words[script + 1 :]


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(work: Path) -> Dict[str, Any]:
    repo = RepoCopy(work / "repo")
    try:
        load_locked = _load()
        result = repo.run_subprocess(
            "--no-local-cache", "--no-remote-cache-read", "--no-remote-cache-write",
            "--keep-sandboxes=always", "package", IMAGE,
        )
        if result.exit_code != 0:
            raise SystemExit(f"pants package failed:\n{result.stderr[-4000:]}")
        locked_s = kernel_wall_s(result.stderr)
        sandboxes = sorted(repo.sandbox_root.glob("pants-sandbox-*/tree/build/build_kernel.sh"))
        if locked_s is None or not sandboxes:
            raise SystemExit("no kernel build in that run (was it a cache hit?)")
        sandbox = sandboxes[0].parents[2]
        locked_kernel = sandbox / "tree/build/out/kernel"
        env, args = host_build_command((sandbox / "__run.sh").read_text())

        host_dir = work / "host-build"
        shutil.copytree(sandbox / "tree/build", host_dir, ignore=shutil.ignore_patterns("out", "src", "*.tar*"), symlinks=True)
        load_host = _load()
        start = time.monotonic()
        proc = subprocess.run(["/bin/bash", "build_kernel.sh", *args], cwd=host_dir, env=env, capture_output=True, text=True)
        host_s = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit(f"the host toolchain's build failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        host_kernel = host_dir / "out/kernel"
        sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
        gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
        return {
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "locked_s": round(locked_s, 1),
            "host_s": round(host_s, 1),
            "ratio": round(locked_s / host_s, 3),
            "jobs": args[1] if len(args) > 1 else "?",
            "load_locked": load_locked,
            "load_host": load_host,
            "locked_sha256": sha(locked_kernel),
            "host_sha256": sha(host_kernel),
            "identical": locked_kernel.read_bytes() == host_kernel.read_bytes(),
            "host_gcc": gcc[0] if gcc else "?",
            "cpus": os.cpu_count(),
        }
    finally:
        repo.cleanup()


def render(figures: Optional[Dict[str, Any]]) -> List[str]:
    lines = ["", HEADING, ""]
    if not figures:
        lines.append("Not measured on this machine yet: `./pants run tests/benchmarks:kernel-toolchain` (~20 min).")
        return lines
    f = figures
    ok = f["ratio"] <= GOAL_RATIO
    lines += [
        f"Measured {f['measured']} by `./pants run tests/benchmarks:kernel-toolchain` ({f['cpus']} CPUs, "
        f"`make -j` as the build script chose; load average at the start: locked {f['load_locked']}, host {f['load_host']}).",
        "The C example's kernel (fragments base, virtio, net) built from nothing twice, one after the other: "
        "by Pants with the locked Debian toolchain (chrooted), then from a copy of the same inputs by the "
        f"host's toolchain ({f['host_gcc']}).",
        "",
        "| Figure | Measured | Goal | |",
        "|---|---|---|---|",
        f"| kernel build, locked toolchain | {f['locked_s']} s | | |",
        f"| kernel build, host toolchain | {f['host_s']} s | | |",
        f"| ratio locked / host | {f['ratio']} | ≤ {GOAL_RATIO} | {'✅' if ok else '❌'} |",
        f"| same kernel bytes | {'yes' if f['identical'] else 'no'} (`{f['locked_sha256'][:16]}…` vs "
        f"`{f['host_sha256'][:16]}…`) | yes | {'✅' if f['identical'] else '❌'} |",
    ]
    if not f["identical"]:
        lines += ["", "The bytes differ when the host's gcc or binutils is not the locked version (Debian 12's "
                  "gcc 12.2.0-14+deb12u1, binutils 2.40): the locked build is the one every machine gets."]
    return lines


def replace_section(markdown: str, figures: Optional[Dict[str, Any]]) -> str:
    """`markdown` with its kernel toolchain section rendered anew."""
    return sections.replace(markdown, HEADING, render(figures))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kernel-toolchain-") as tmp:
        figures = measure(Path(tmp))
    sections.publish(FIGURES, figures, replace_section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
