"""Measure every `unikernel_image` in testprojects/ and write docs/benchmarks.md.

    ./pants run tests/benchmarks:report
    ./pants run tests/benchmarks:report -- --images 'testprojects/c/*' --quick --output /tmp/b.md

Everything runs in a copy of the repository in a temporary directory (`RepoCopy`): a nested
Pants on this buildroot would wait for the lock of the Pants that runs this script. The copy
shares ~/.cache/pants, so images that were built before are cache hits.

Per image:
  1. sizes of kernel, initrd and the whole bundle (manifest.json);
  2. virtual milliseconds to the app's READY line: QEMU `-icount shift=0,sleep=off` makes guest
     time advance 1 ns per guest instruction with idle time skipped, so the app's
     CLOCK_MONOTONIC at READY is the same on every run and every machine (booted twice, compared);
  3. memory floor: the least integer MiB at which the image boots and answers HTTP 200
     (bisection, TCG without icount);
  4. warm rebuild after a one-line change to the app's main source, in a fresh Pants process
     (what CI sees) and with a warm pantsd (what a developer sees), and which processes ran.
The measurements are compared with the goals of the image's runtime (GOALS below).

`--quick` skips the memory floor, the second READY boot and the pantsd rebuild; `--skip-floor`
and `--skip-rebuild` skip one part each; `--images` picks images by address (fnmatch).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fnmatch
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from pants_repo import RepoCopy, source_root
from remote_cache import FIGURES_FILE, read_figures
from unikernel_rules.qemu import launcher
from unikernel_rules.rootfs.layer_rules import RUNTIME_LAYER_MARKER

DEFAULT_READY = r"READY.*?monotonic_ms=([0-9.]+)"
DEFAULT_OUTPUT = "docs/benchmarks.md"
COMMAND = "./pants run tests/benchmarks:report"

FLOOR_LOWER_MIB = 8
FLOOR_UPPER_MIB = 4096
FLOOR_BOOT_TIMEOUT_S = 60.0
READY_BOOT_TIMEOUT_S = 180.0
SKIP_TAG = "no-benchmark"
SKIP_DIRS = ("testprojects/bad",)

KERNEL_PROCESS_MARKER = "Building the Linux"

# Disk-root images are booted for READY a second time with this extra kernel parameter: the
# guest busy-polls instead of idling, so icount does not warp virtual time to the next timer
# tick while the guest waits for a virtio-blk read (see "Method"). A measurement setting only.
IDLE_POLL_PARAM = "idle=poll"


@dataclasses.dataclass(frozen=True)
class ImageSettings:
    """How to tell that an image is ready: a regex whose group 1 is the virtual ms, and a path to GET."""

    ready: str = DEFAULT_READY
    http_path: str = "/"


# Per-image overrides, by address. Images not listed use ImageSettings().
IMAGE_SETTINGS: Dict[str, ImageSettings] = {
    "testprojects/c/hello_http:image": ImageSettings(ready=DEFAULT_READY),
}


@dataclasses.dataclass(frozen=True)
class Goal:
    total_mb: float  # decimal MB (10^6 bytes) of kernel + initrd (+ rootfs)
    ready_ms: float  # virtual ms to READY
    floor_mib: int
    rebuild_s: float  # wall seconds of `package` after a one-line app change
    kernel_rebuild_allowed: bool = False
    runtime_layer_rebuild_allowed: bool = False


GOALS: Dict[str, Goal] = {
    "c": Goal(total_mb=1.5, ready_ms=40, floor_mib=16, rebuild_s=3),
    "python": Goal(total_mb=8, ready_ms=250, floor_mib=40, rebuild_s=6),
    "java": Goal(total_mb=20, ready_ms=400, floor_mib=64, rebuild_s=8),
}

# The app's main source file is the first (sorted) file with these extensions in `filedeps`
# of the image's direct dependencies, preferring files in the image's directory.
SOURCE_EXTENSIONS: Dict[str, Tuple[str, ...]] = {
    "c": (".c",),
    "python": (".py",),
    "java": (".java",),
}

# Hand-written notes per image, shown under "What limits it" after the measured ones. Edit freely.
STATIC_NOTES: Dict[str, List[str]] = {
    "testprojects/c/hello_http:image": [
        "The app itself is a few KB of static musl code: size, boot time and memory are almost "
        "all the kernel's (config fragments in src/python/unikernel_rules/kernel/fragments/).",
        "Virtual ms to ready starts at the kernel's clock, so it does not include the firmware "
        "and the decompression of the zstd bzImage. Measured by hand (2026-11-26) with a /init "
        "that reads the TSC (1 tick per virtual ns under -icount): ~102 ms before the kernel's "
        "clock starts, so ~129 ms end to end. xz made the kernel 10% smaller but took ~750 ms "
        "to decompress; a PVH boot of the uncompressed vmlinux takes ~8.5 ms but is 11.5 MB.",
        "What the remaining time is (measured by hand): early memory setup ~10 ms (grows with "
        "RAM), initcalls ~8 ms (PCI enumeration, IPv4, virtio, initramfs), freeing/poisoning "
        "init memory ~6 ms, /init to READY ~2 ms. `-M microvm` (no PCI) gave 18 ms; `pc` "
        "stays the default.",
        "Memory floor: the kernel is loaded at 2 MiB (CONFIG_PHYSICAL_START) and its text must "
        "stay under the next 2 MiB boundary, or the floor jumps by 2 MiB (CONFIG_INIT_STACK_NONE "
        "keeps it 37 KB under; see base.config).",
        "Warm rebuild: a fresh Pants process spends most of its time starting up and reading "
        "BUILD files on these shared 2-core machines; with pantsd only the app's zig compile "
        "and the initramfs run.",
    ],
    "testprojects/python/hello_http:image": [
        "Boot time, measured by hand (2026-11-27) with `python -X importtime` under `idle=poll`: of "
        "~340 ms to READY, the kernel reaches /init in ~27–30 ms (like the C image); the rest is "
        "CPython starting and, above all, the app's own imports. `http.server` is 174 ms cumulative: its "
        "`http.client` pulls `ssl` (46 ms, of which `_ssl` loading libssl and libcrypto 25 ms) and "
        "`email.utils` (60 ms). Then `markupsafe` 22 ms (including `typing` 11 ms), `sqlite3` 14 ms, "
        "`runpy` for `-m` 20 ms (mostly `contextlib`, which `http.server` needs anyway), `site` 10 ms, "
        "`encodings` 5 ms. Getting under 250 ms means fewer or lighter imports (e.g. no `ssl` "
        "behind `http.client`), not a faster kernel.",
        "Size (by hand, 2026-11-27): the app sets `unikernel_stdlib=\"imported\"`, so rootfs.img "
        "holds only the standard-library modules its imports reach: 13.1 MB instead of 17.0 MB for "
        "the whole trimmed stdlib. What remains (uncompressed) is mostly the interpreter "
        "(python3.11, 6.8 MB), OpenSSL (libcrypto + libssl 5.4 MB, pulled in by `http.server` -> "
        "`http.client` -> `ssl`), glibc (libc + libm 2.8 MB) and SQLite (1.4 MB); lz4hc compresses "
        "binaries poorly. Measured alternatives for the whole-stdlib tree: zstd level 19 is ~23% "
        "smaller but ~2.7x slower to decompress in the guest; xz ~28% smaller and slower still; "
        "dropping the stdlib's .py sources saves ~2.5 MB. Even with zstd, the binaries alone keep "
        "the image above 8 MB.",
        "Memory: the page cache of a disk root is reclaimable, so the image boots with less RAM than "
        "its files' size. By hand (2026-11-27) it booted at 32 MiB, with more wall time, and failed "
        "lower; the bisection above is the measured floor. Near the floor boots are slow and the app "
        "may be killed (exit 137: SIGKILL, presumably the OOM killer), so a floor boot can fail once "
        "and pass once (\"unstable\").",
    ],
    "testprojects/java/hello_http:image": [
        "Boot time, measured by hand (2026-11-27, `idle=poll`): the kernel reaches /init in ~29 ms "
        "(like the C disk image); the rest is the JVM. The app's CDS archive (`cds=True`, "
        "opt-in) cut 697 -> 473 ms. Measured and left out of the defaults (see docs/java.md): "
        "`-XX:CompileThresholdScaling=5` 420 ms; no verification of class path classes "
        "(`-XX:-BytecodeVerificationRemote`) another ~50 ms, a safety trade-off; mapping the "
        "archive at its fixed address (`-XX:ArchiveRelocationMode=0`) ~7 ms, gives up ASLR; `-Xint` "
        "~485 ms. The JVM's own log (`-Xlog:startuptime`) shows ~155 ms to create the VM "
        "(universe genesis, java.lang and module system init) before `main` runs; the remaining "
        "classes of the app's path (93 in the example: lambda forms, `java.base` classes outside "
        "the default class list) still load from `lib/modules`.",
        "Size (by hand, 2026-11-27): rootfs.img with lz4hc holds `lib/modules` (java.base, "
        "java.sql which requires java.xml, jdk.httpserver; jlink --compress=0) 11.2 MB, "
        "libjvm.so 8.5 MB (Debian's: every GC, C1, C2, JFR; 20 MB after strip), the CDS archive "
        "~4 MB, glibc + libstdc++ ~2.5 MB. `disk_compression=\"zstd\"` gives a 20.6 MB rootfs.img "
        "(22.1 MB in all, still above 20) but +550 ms to READY (zstd decompression in the guest), "
        "so lz4 stays the default. Meeting 20 MB would need a smaller JVM build (a minimal VM "
        "variant, not in Debian) or dropping CDS (the default now: 25.2 MB in all, 697 ms).",
        "Warm rebuild after a comment line in Main.java: javac/jar/jdeps rerun (~3 s of JVM "
        "starts), their outputs are byte-identical to the previous build, so jlink, the CDS dump, "
        "the ELF closure and mksquashfs are cache hits. A real code change (a string literal in "
        "Main.java, by hand, 2026-11-27, warm pantsd, quiet machine) took 8.5 s: javac/jar/jdeps, "
        "the CDS dump (another JVM start) and mksquashfs of the whole ~70 MB tree rerun; jlink "
        "and the kernel do not (goal 8 s: just missed). A two-layer disk (the runtime cached as "
        "its own squashfs) would cut the mksquashfs part.",
    ],
}


# Figures of the reproducibility + remote cache test (tests/reproducibility_integration_test.py
# reports them in pytest's warnings summary); copied here by hand after a run. Edit freely.
REPRODUCIBILITY_HEADING = "## Reproducibility and remote cache"


def render_reproducibility(figures: Optional[Dict[str, Any]]) -> List[str]:
    """The section on reproducibility and the remote cache: figures measured by
    tests/reproducibility_integration_test.py (part of `pants test ::`), which records them in
    `remote_cache.figures_path()`; this report only renders them."""
    lines = ["", f"{REPRODUCIBILITY_HEADING} (all `testprojects/` images)", ""]
    add = lines.append
    source = "`tests/reproducibility_integration_test.py` (part of `pants test ::`)"
    if not figures:
        add(f"No figures: {source} has not run on this machine since its temp dir was last")
        add(f"cleared (it records them in `$TMPDIR/{FIGURES_FILE}`). Run it, then this report again.")
        return lines
    add(f"Measured by {source}, run started {figures.get('started', '?')},")
    add(f"last figure {figures.get('updated', '?')}. Build A: no local cache, writes every process to a")
    add("BuildGrid REAPI server on loopback. Build B: no cache at all, another checkout path, TZ,")
    add("LANG, umask, under `faketime`. Clone C: another path, an empty local store, build A's")
    add("named-caches path emptied, remote cache read only. See docs/reproducibility.md and docs/remote-cache.md.")
    add("")
    a, b, c = figures.get("clone_a") or {}, figures.get("build_b") or {}, figures.get("clone_c") or {}
    stopped = figures.get("server_stopped") or {}

    def num(d: Dict[str, Any], key: str, unit: str = "") -> str:
        return "—" if d.get(key) is None else f"{d[key]}{unit}"

    add("| Figure | Measured | Goal | |")
    add("|---|---|---|---|")
    ran = c.get("run_locally")
    add(f"| processes run locally on clone C | {num(c, 'run_locally')} | 0 | "
        f"{'—' if ran is None else ('✅' if ran == 0 else '❌')} |")
    hits, requests = c.get("remote_hits"), c.get("remote_requests")
    add(f"| remote cache hits on clone C | {'—' if hits is None else f'{hits} of {requests}'} | all | "
        f"{'—' if hits is None else ('✅' if requests and hits == requests else '❌')} |")
    add(f"| Pants' environment discovery on clone C (never cached, by Pants' design) | "
        f"{num(c, 'discovery')} processes | | |")
    add(f"| wall time, build A (cold: no local cache, writes the remote cache) | {num(a, 'wall_s', ' s')} | | |")
    add(f"| wall time, clone C (from the remote cache) | {num(c, 'wall_s', ' s')} | | |")
    add(f"| wall time, build B (no cache at all) | {num(b, 'wall_s', ' s')} | | |")
    add(f"| processes build A ran and wrote | {num(a, 'local_processes')} ran, {num(a, 'written')} "
        f"written, {num(a, 'write_errors')} write errors | | |")
    if stopped:
        add(f"| server stopped: a changed C image still builds | "
            f"{'yes' if stopped.get('build_succeeded') else 'no'}, "
            f"{'with' if stopped.get('warned') else 'without'} Pants' warning | yes, with a warning | "
            f"{'✅' if stopped.get('build_succeeded') and stopped.get('warned') else '❌'} |")
    artifacts: Dict[str, str] = figures.get("artifacts") or {}
    different = set(figures.get("different") or ())
    c_same = c.get("identical_to_a")
    add("")
    if not artifacts:
        add("No artifact comparison recorded (build A or B failed).")
        return lines
    add(f"Artifacts compared byte for byte, build A vs build B"
        f"{'' if c_same is None else ' (and clone C vs A: ' + ('all identical' if c_same else 'DIFFERENT') + ')'}:"
        f" {len(artifacts) - len(different)} of {len(artifacts)} identical.")
    add("")
    add("| Artifact | sha256 (build A) | A = B |")
    add("|---|---|---|")
    for name in sorted(artifacts):
        add(f"| `{name}` | `{artifacts[name][:16]}…` | {'❌' if name in different else '✅'} |")
    return lines


def replace_reproducibility(markdown: str, figures: Optional[Dict[str, Any]]) -> str:
    """`markdown` (a report this script wrote) with its reproducibility section rendered anew
    from `figures`; the measurements of the images stay as they were."""
    head = markdown.split("\n" + REPRODUCIBILITY_HEADING, 1)[0].rstrip("\n")
    return head + "\n" + "\n".join(render_reproducibility(figures)).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# Results


@dataclasses.dataclass
class Probe:
    memory_mib: int
    ok: bool
    detail: str = ""


@dataclasses.dataclass
class FloorResult:
    floor_mib: Optional[int]  # None: no size up to the upper bound worked
    probes: List[Probe] = dataclasses.field(default_factory=list)
    confirmed: Optional[bool] = None  # a second boot at the floor succeeded too
    error: Optional[str] = None

    def below(self) -> Optional[Probe]:
        """The failed probe closest below the floor."""
        if self.floor_mib is None:
            return None
        fails = [p for p in self.probes if not p.ok and p.memory_mib < self.floor_mib]
        return max(fails, key=lambda p: p.memory_mib) if fails else None


@dataclasses.dataclass
class ReadyResult:
    virtual_ms: List[Optional[float]] = dataclasses.field(default_factory=list)
    wall_s: List[Optional[float]] = dataclasses.field(default_factory=list)
    http_status: List[Optional[int]] = dataclasses.field(default_factory=list)
    errors: List[str] = dataclasses.field(default_factory=list)

    @property
    def ms(self) -> Optional[float]:
        """The slowest boot's virtual ms."""
        vals = [v for v in self.virtual_ms if v is not None]
        return max(vals) if vals else None

    @property
    def spread_ms(self) -> Optional[float]:
        vals = [v for v in self.virtual_ms if v is not None]
        return max(vals) - min(vals) if len(vals) > 1 else None

    @property
    def deterministic(self) -> Optional[bool]:
        """True if every boot gave the same virtual ms; None if fewer than two boots did."""
        if len(self.virtual_ms) < 2 or any(v is None for v in self.virtual_ms):
            return None
        return len(set(self.virtual_ms)) == 1


@dataclasses.dataclass
class RebuildResult:
    mode: str  # "fresh" (new Pants process, no pantsd) or "pantsd"
    edited: str = ""
    wall_s: Optional[float] = None
    noop_wall_s: Optional[float] = None  # `package` again without a change (Pants overhead)
    start_wall_s: Optional[float] = None  # pantsd: the run that started it
    completed: List[str] = dataclasses.field(default_factory=list)
    error: Optional[str] = None

    @property
    def kernel_rebuilt(self) -> Optional[bool]:
        if self.wall_s is None:
            return None
        return any(KERNEL_PROCESS_MARKER in c for c in self.completed)

    @property
    def runtime_layer_rebuilt(self) -> Optional[bool]:
        """True if the runtime layer (e.g. CPython from Debian packages) was built in the rebuild."""
        if self.wall_s is None:
            return None
        return any(RUNTIME_LAYER_MARKER in c for c in self.completed)


@dataclasses.dataclass
class ImageReport:
    address: str
    runtime: str = "?"
    manifest: Dict[str, Any] = dataclasses.field(default_factory=dict)
    sizes: Dict[str, int] = dataclasses.field(default_factory=dict)  # kernel, initrd, [rootfs.img], total
    ready: Optional[ReadyResult] = None  # plain icount
    ready_poll: Optional[ReadyResult] = None  # icount + idle=poll (disk-root images only)
    floor: Optional[FloorResult] = None
    rebuilds: List[RebuildResult] = dataclasses.field(default_factory=list)
    error: Optional[str] = None

    def rebuild(self, mode: str) -> Optional[RebuildResult]:
        for r in self.rebuilds:
            if r.mode == mode:
                return r
        return None

    @property
    def disk_root(self) -> bool:
        return root_kind(self.manifest) == "disk"

    @property
    def goal_ready(self) -> Optional[ReadyResult]:
        """The READY measurement the goal is checked against: with `idle=poll` for a disk root
        (plain icount counts an artifact there), plain icount otherwise."""
        return self.ready_poll if self.disk_root else self.ready


@dataclasses.dataclass
class Machine:
    nproc: int
    cpu_model: str
    qemu: str
    kvm: str
    python: str = ""
    pants: str = ""
    load_before: str = ""  # /proc/loadavg 1/5/15-minute averages
    load_after: str = ""
    pants_startup_s: Optional[float] = None  # a fresh Pants process that only reads BUILD files


# --------------------------------------------------------------------------------------------
# Pure helpers


def bisect_floor(
    ok: Callable[[int], Tuple[bool, str]],
    start: int,
    lower: int = FLOOR_LOWER_MIB,
    upper: int = FLOOR_UPPER_MIB,
) -> FloorResult:
    """The least integer m in [lower, upper] with ok(m), assuming ok is monotonic.

    Tries `start` first and doubles it until ok (capped at `upper`), then bisects between the
    largest known failure (or lower - 1) and the smallest known success.
    `ok(m)` returns (success, detail).
    """
    probes: List[Probe] = []

    def probe(m: int) -> bool:
        good, detail = ok(m)
        probes.append(Probe(m, good, detail))
        return good

    hi = min(max(start, lower), upper)
    lo = lower - 1  # largest size known to fail (lower - 1: none known)
    while not probe(hi):
        lo = hi
        if hi >= upper:
            return FloorResult(None, probes)
        hi = min(hi * 2, upper)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(mid):
            hi = mid
        else:
            lo = mid
    return FloorResult(hi, probes)


def root_kind(manifest: Dict[str, Any]) -> str:
    """The manifest's `root.kind`: "initramfs" (also for manifests without a root block) or "disk"."""
    root = manifest.get("root")
    kind = root.get("kind") if isinstance(root, dict) else None
    return str(kind) if kind else "initramfs"


def ready_kernel_params(manifest: Dict[str, Any]) -> List[Tuple[str, List[str]]]:
    """The READY measurements to make: [(name, extra kernel parameters)]. "plain" for every image;
    "idle=poll" too for a disk root."""
    runs: List[Tuple[str, List[str]]] = [("plain", [])]
    if root_kind(manifest) == "disk":
        runs.append((IDLE_POLL_PARAM, [IDLE_POLL_PARAM]))
    return runs


def parse_ready_ms(line: Optional[str], regex: str) -> Optional[float]:
    """The virtual ms in a READY line: group 1 of `regex` (None if no match or no number)."""
    if not line:
        return None
    m = re.search(regex, line)
    if not m or not m.groups() or m.group(1) is None:
        return None
    try:
        return float(m.group(1))
    except ValueError:
        return None


def skip_reason(address: str, tags: Iterable[str]) -> Optional[str]:
    """Why an image is not benchmarked, or None."""
    path = address.split(":", 1)[0].lstrip("/")
    for d in SKIP_DIRS:
        if path == d or path.startswith(d + "/"):
            return f"under {d}/"
    if SKIP_TAG in set(tags or ()):
        return f'tag "{SKIP_TAG}"'
    return None


def matches_filters(address: str, patterns: Sequence[str]) -> bool:
    """True if no patterns, or `address` equals or fnmatches one of them (`dir` means `dir:*`)."""
    if not patterns:
        return True
    for pat in patterns:
        if address == pat or fnmatch.fnmatchcase(address, pat):
            return True
        if ":" not in pat and fnmatch.fnmatchcase(address, pat.rstrip("/") + ":*"):
            return True
        if pat.endswith("::") and address.startswith(pat[:-2].rstrip("/") + "/"):
            return True
        if pat.endswith("::") and address.startswith(pat[:-2].rstrip("/") + ":"):
            return True
    return False


_COMPLETED_RE = re.compile(r"\]\s+Completed:\s+(.*?)\s*$")


def completed_lines(stderr: str) -> List[str]:
    """The descriptions of Pants's INFO `Completed: ...` lines (processes that ran), sorted, unique."""
    out = set()
    for line in stderr.splitlines():
        m = _COMPLETED_RE.search(line)
        if m:
            out.add(m.group(1))
    return sorted(out)


def pick_main_source(files: Iterable[str], runtime: str, image_dir: str) -> Optional[str]:
    """The app's main source among `filedeps` output: first by (outside the image's dir, not
    named main.*, path) among files with the runtime's extensions."""
    exts = SOURCE_EXTENSIONS.get(runtime) or tuple(e for v in SOURCE_EXTENSIONS.values() for e in v)
    image_dir = image_dir.strip("/")
    candidates = [f.strip() for f in files if f.strip().endswith(exts)]
    if not candidates:
        return None

    def key(f: str) -> Tuple[bool, bool, str]:
        inside = f.startswith(image_dir + "/") if image_dir else True
        stem = os.path.splitext(os.path.basename(f))[0]
        return (not inside, stem not in ("main", "Main", "__main__", "app"), f)

    return sorted(candidates, key=key)[0]


def address_dir(address: str) -> str:
    """The directory of the BUILD file that defines `address` (`a/b:t`, `a/b`, `a/b/f.py:t` -> `a/b`)."""
    path = address.split(":", 1)[0].split("#", 1)[0].lstrip("/")
    if "." in posixpath.basename(path):  # a generated file target: a/b/f.py:t
        return posixpath.dirname(path)
    return path


def dep_source_files(entries: Iterable[Dict[str, Any]], expand: Callable[[str], List[str]]) -> List[str]:
    """Source files of targets from their `peek` entries: hydrated `sources` plus the globs of
    `sources_raw` / `source_raw` (relative to the BUILD file's directory) expanded by `expand`."""
    files = set()
    for entry in entries:
        files.update(entry.get("sources") or [])
        base = address_dir(entry.get("address", ""))
        for key in ("sources_raw", "source_raw"):
            raw = entry.get(key)
            if not raw:
                continue
            for pattern in [raw] if isinstance(raw, str) else raw:
                if not pattern.startswith("!"):
                    files.update(expand(posixpath.join(base, pattern) if base else pattern))
    return sorted(files)


def find_main_source(
    address: str,
    entries: Dict[str, Dict[str, Any]],
    runtime: str,
    expand: Callable[[str], List[str]],
    max_depth: int = 2,
) -> Tuple[Optional[str], List[str]]:
    """(the app's main source, dependency addresses without a `peek` entry) for an image.

    Looks at the sources of the image's direct dependencies first; if none has a source with the
    runtime's extensions (a `pex_binary` has no sources, only an entry point whose file is its
    dependency), at their dependencies, and so on down to `max_depth` levels."""
    missing: List[str] = []
    seen = {address}
    level = list(entries.get(address, {}).get("dependencies") or [])
    for _ in range(max_depth):
        level = [d for d in dict.fromkeys(level) if d not in seen]
        if not level:
            break
        seen.update(level)
        missing += [d for d in level if d not in entries]
        known = [entries[d] for d in level if d in entries]
        found = pick_main_source(dep_source_files(known, expand), runtime, address_dir(address))
        if found is not None:
            return found, sorted(set(missing))
        level = [d2 for e in known for d2 in (e.get("dependencies") or [])]
    return None, sorted(set(missing))


def comment_line(path: str, nonce: str) -> str:
    """A one-line comment in the language of `path`."""
    if path.endswith((".py", ".sh", ".toml")):
        return f"# benchmark edit {nonce}\n"
    return f"// benchmark edit {nonce}\n"


def append_comment(text: str, path: str, nonce: str) -> str:
    if text and not text.endswith("\n"):
        text += "\n"
    return text + comment_line(path, nonce)


def bundle_sizes(manifest: Dict[str, Any], bundle: Optional[Path] = None) -> Dict[str, int]:
    """Sizes of kernel, initrd (and rootfs.img) in bytes, plus "total" (without cmdline and manifest)."""
    files = manifest.get("files") or {}
    sizes: Dict[str, int] = {}
    for name in ("kernel", "initrd", "rootfs.img"):
        size = None
        if bundle is not None and (bundle / name).is_file():
            size = (bundle / name).stat().st_size
        elif name in files:
            size = int(files[name]["size"])
        if size is not None:
            sizes[name] = size
    sizes["total"] = sum(sizes.values())
    return sizes


def classify_boot(result: Any, http_expected: bool) -> Tuple[bool, str]:
    """(success, what happened) for a launcher BootResult of a floor probe."""
    output = getattr(result, "output", "") or ""
    if result.timed_out:
        return False, "hang (timed out)"
    if result.panicked:
        return False, f"kernel panic ({(result.panic_line or '').strip()[:80]})"
    if result.app_exit == 125 or (result.ready_line is None and result.exit_code == 125):
        return False, "init stopped with status 125 (not enough memory / incomplete initramfs)"
    if "Initramfs unpacking failed" in output:
        return False, "initramfs unpacking failed"
    if result.ready_line is None:
        if not output.strip():
            return False, "no console output (the VM reset or stopped before the kernel printed anything)"
        return False, f"no READY line (exit {result.exit_code})"
    if http_expected and result.http_status != 200:
        got = f"HTTP {result.http_status}" if result.http_status is not None else (result.http_error or "no HTTP answer")
        return False, f"READY, but {got}"
    if result.exit_code != 0:
        return False, f"exit {result.exit_code}"
    return True, "ok"


def mb(n: Optional[int]) -> str:
    return "—" if n is None else f"{n / 1e6:.2f} MB"


def check(value: Optional[float], goal: Optional[float]) -> str:
    if value is None or goal is None:
        return "—"
    return "✅" if value <= goal else "❌"


def fmt_s(s: Optional[float]) -> str:
    return "—" if s is None else f"{s:.1f} s"


def fmt_ms(ms: Optional[float]) -> str:
    if ms is None:
        return "—"
    return f"{ms:.3f}".rstrip("0").rstrip(".") + " ms"


def _g(x: float) -> str:
    return f"{x:g}"


# --------------------------------------------------------------------------------------------
# Markdown


def render_markdown(
    reports: Sequence[ImageReport],
    machine: Machine,
    generated: datetime.datetime,
    *,
    flags: Sequence[str] = (),
    skipped: Sequence[Tuple[str, str]] = (),
    static_notes: Optional[Dict[str, List[str]]] = None,
    reproducibility: Optional[Dict[str, Any]] = None,
) -> str:
    static_notes = STATIC_NOTES if static_notes is None else static_notes
    reports = sorted(reports, key=lambda r: r.address)
    lines: List[str] = []
    add = lines.append
    add("# Benchmarks")
    add("")
    cmd = COMMAND + (" -- " + " ".join(flags) if flags else "")
    add(f"Generated {generated.astimezone(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `{cmd}`.")
    add("Do not edit by hand: rerun the command (hand-written notes live in `STATIC_NOTES` in")
    add("`tests/benchmarks/report.py`).")
    if flags:
        add("")
        add(f"**Partial run** (`{' '.join(flags)}`): some measurements were skipped and show as —.")
    add("")
    add("## Machine")
    add("")
    add(f"- CPUs: {machine.nproc} (nproc), {machine.cpu_model}")
    add(f"- QEMU: {machine.qemu}")
    add(f"- KVM: {machine.kvm}")
    if machine.pants:
        add(f"- Pants: {machine.pants}; report run by Python {machine.python}")
    if machine.load_before or machine.load_after:
        add(f"- Load average (1, 5, 15 min) before / after the run: {machine.load_before or '?'} / "
            f"{machine.load_after or '?'} (shared machine)")
    if machine.pants_startup_s is not None:
        add(f"- A fresh Pants process (no pantsd) that only reads the BUILD files (`peek testprojects::`): "
            f"{fmt_s(machine.pants_startup_s)}")
    add("")
    add("Sizes and virtual times do not depend on the machine; the memory floor hardly does;")
    add("rebuild times do (and on what else runs: these machines are shared).")
    add("")
    add("## Method")
    add("")
    add("- **Sizes**: the bundle files `kernel`, `initrd` (and `rootfs.img` if any) from")
    add("  `pants package`; total = their sum. MB = 10⁶ bytes.")
    add("- **Virtual ms to ready**: QEMU (TCG) with `-icount shift=0,sleep=off`: guest time advances")
    add("  exactly 1 ns per guest instruction and idle time is skipped, so the guest's")
    add("  `CLOCK_MONOTONIC` when the app prints its READY line (`monotonic_ms=...`) is the same on")
    add("  every run and machine. It counts from early in the kernel's boot, when its clock starts, to")
    add("  READY: kernel init, initramfs unpacking, init and app start (firmware and the kernel's")
    add("  decompression come earlier and are not counted). Each image boots twice; the two values")
    add("  must be equal. If the image has a port, it is forwarded and `GET /` must answer.")
    add("- **Disk roots** (manifest `root.kind` = `disk`: the runtime sits on a read-only squashfs")
    add("  `rootfs.img` on virtio-blk): READY is measured twice over, with plain icount as above and")
    add(f"  with the extra kernel parameter `{IDLE_POLL_PARAM}` (\"disk waits at real latency\"); the goal")
    add(f"  is checked against the `{IDLE_POLL_PARAM}` figure. Why: under `-icount shift=0,sleep=off`,")
    add("  each time the guest idles waiting for a disk read, QEMU warps virtual time to the next timer")
    add("  tick (HZ=250: up to 4 ms per read), so the plain figure of a disk root is mostly that")
    add(f"  artifact. With `{IDLE_POLL_PARAM}` the guest busy-polls instead of idling, so a disk wait")
    add("  counts at the read's real emulated latency, converted at 1 ns per instruction; it depends a")
    add("  little on the host, so the two boots may differ by a fraction of a ms (the slower counts).")
    add(f"  `{IDLE_POLL_PARAM}` is a measurement setting only: it is not in the product's kernel command")
    add("  line, because a polling guest burns a host CPU all the time it is idle.")
    add("- **Memory floor**: the least integer MiB (`-m`) at which the image reaches READY and answers")
    add(f"  `GET /` with HTTP 200 (TCG, no icount, {FLOOR_BOOT_TIMEOUT_S:g} s timeout per boot). Start at")
    add(f"  the image's `memory` and double until it works (at most {FLOOR_UPPER_MIB} MiB), then bisect")
    add(f"  down to {FLOOR_LOWER_MIB} MiB; a panic, a hang, init's memory check (status 125), a launch")
    add("  error or a wrong HTTP answer count as failure. The floor is booted once more to confirm.")
    add("- **Warm rebuild**: in a copy of the repository with a warm cache, `pants package IMAGE`;")
    add("  then append one comment line (with a fresh random token, so no cache has seen it) to the")
    add("  app's main source (the first `.c`/`.py`/`.java` source of the image's direct dependencies,")
    add("  preferring `main.*` in the image's directory) and time `pants package IMAGE` again: once in")
    add("  a fresh Pants process without pantsd (what CI sees) and once with a warm pantsd (started by")
    add("  a first `--pantsd` run; what a developer sees). \"No-op\" is the same command without a")
    add("  change (Pants's own overhead). *Kernel rebuilt* means Pants logged `Completed: Building the")
    add("  Linux ... kernel` (the process ran rather than coming from the cache); *runtime layer")
    add(f"  rebuilt* means it logged `Completed: ...: a {RUNTIME_LAYER_MARKER} N Debian packages` (the")
    add("  runtime layer, e.g. CPython, was rebuilt; images without a runtime layer always show no).")
    add("")
    add("### Goals")
    add("")
    add("| Runtime | Total size | Virtual ms to ready | Memory floor | Warm rebuild | Kernel rebuilt "
        "| Runtime layer rebuilt |")
    add("|---|---|---|---|---|---|---|")
    for runtime in sorted(GOALS):
        g = GOALS[runtime]
        add(
            f"| {runtime} | ≤ {_g(g.total_mb)} MB | ≤ {_g(g.ready_ms)} ms | ≤ {g.floor_mib} MiB | "
            f"≤ {_g(g.rebuild_s)} s | {'allowed' if g.kernel_rebuild_allowed else 'no'} "
            f"| {'allowed' if g.runtime_layer_rebuild_allowed else 'no'} |"
        )
    add("")
    add("## Results")
    add("")
    if not reports:
        add("No images were measured.")
        add("")
    else:
        add(
            "| Image | Runtime | Total size | Virtual ms to ready | Memory floor | "
            "Warm rebuild (fresh process) | Warm rebuild (pantsd) | Kernel rebuilt | Runtime layer rebuilt |"
        )
        add("|---|---|---|---|---|---|---|---|---|")
        for r in reports:
            add(_summary_row(r))
        add("")
    if skipped:
        add("Not measured: " + "; ".join(f"`{a}` ({why})" for a, why in sorted(skipped)) + ".")
        add("")
    for r in reports:
        lines.extend(_image_section(r, static_notes.get(r.address, []), machine.pants_startup_s))
    lines.extend(render_reproducibility(reproducibility))
    return "\n".join(lines).rstrip("\n") + "\n"


def _goal(r: ImageReport) -> Optional[Goal]:
    return GOALS.get(r.runtime)


def _ready_value(rr: Optional[ReadyResult], goal_ms: Optional[float], exact: bool = True) -> str:
    """One READY figure for the summary: the slowest boot, checked against `goal_ms` if given;
    `exact`: the boots must agree (plain icount), else a spread is expected (idle=poll)."""
    if rr is None:
        return "—"
    ms = rr.ms
    if ms is None:
        return "❌ no READY" if rr.errors else "—"
    cell = fmt_ms(ms) + (f" {check(ms, goal_ms)}" if goal_ms is not None else "")
    if exact and rr.deterministic is False:
        cell += f" (not deterministic: boots differ by {fmt_ms(rr.spread_ms)})"
    return cell


def _ready_cell(r: ImageReport) -> str:
    g = _goal(r)
    goal_ms = g.ready_ms if g else None
    if not r.disk_root:
        return _ready_value(r.ready, goal_ms)
    if r.ready is None and r.ready_poll is None:
        return "—"
    return (
        f"{_ready_value(r.ready_poll, goal_ms, exact=False)} with `{IDLE_POLL_PARAM}`; "
        f"plain icount {_ready_value(r.ready, None)}"
    )


def _floor_cell(r: ImageReport) -> str:
    g = _goal(r)
    if r.floor is None:
        return "—"
    if r.floor.floor_mib is None:
        return f"❌ none ≤ {FLOOR_UPPER_MIB} MiB" if not r.floor.error else "❌ error"
    cell = f"{r.floor.floor_mib} MiB {check(r.floor.floor_mib, g.floor_mib if g else None)}"
    if r.floor.confirmed is False:
        cell += " (unstable)"
    return cell


def _rebuild_cell(r: ImageReport, mode: str) -> str:
    g = _goal(r)
    rb = r.rebuild(mode)
    if rb is None:
        return "—"
    if rb.wall_s is None:
        return "❌ failed"
    return f"{fmt_s(rb.wall_s)} {check(rb.wall_s, g.rebuild_s if g else None)}"


def _rebuilt_cell(r: ImageReport, what: str) -> str:
    """`what`: "kernel" or "runtime_layer" (RebuildResult.<what>_rebuilt, Goal.<what>_rebuild_allowed)."""
    flags = [getattr(rb, what + "_rebuilt") for rb in r.rebuilds]
    flags = [f for f in flags if f is not None]
    if not flags:
        return "—"
    rebuilt = any(flags)
    g = _goal(r)
    allowed = getattr(g, what + "_rebuild_allowed") if g else True
    if rebuilt:
        return "yes " + ("✅" if allowed else "❌")
    return "no ✅"


def _kernel_cell(r: ImageReport) -> str:
    return _rebuilt_cell(r, "kernel")


def _summary_row(r: ImageReport) -> str:
    if r.error and not r.sizes:
        return f"| `{r.address}` | {r.runtime} | ❌ {r.error.splitlines()[0][:80]} | — | — | — | — | — | — |"
    g = _goal(r)
    total = r.sizes.get("total")
    size = f"{mb(total)} {check(total / 1e6 if total is not None else None, g.total_mb if g else None)}"
    return (
        f"| `{r.address}` | {r.runtime} | {size} | {_ready_cell(r)} | {_floor_cell(r)} | "
        f"{_rebuild_cell(r, 'fresh')} | {_rebuild_cell(r, 'pantsd')} | {_kernel_cell(r)} | "
        f"{_rebuilt_cell(r, 'runtime_layer')} |"
    )


def _image_section(r: ImageReport, static: Sequence[str], pants_startup_s: Optional[float] = None) -> List[str]:
    g = _goal(r)
    out: List[str] = [f"## `{r.address}`", ""]
    if r.error:
        out += [f"**Error:** {r.error.strip()}", ""]
    m = r.manifest
    if m:
        facts = [f"runtime `{r.runtime}`"]
        if m.get("kernel_version"):
            facts.append(f"kernel {m['kernel_version']}")
        if m.get("memory_mib") is not None:
            facts.append(f"`memory` {m['memory_mib']} MiB")
        if m.get("memory_needed_mib") is not None:
            facts.append(f"estimated need {m['memory_needed_mib']} MiB")
        ports = m.get("ports") or []
        if ports:
            facts.append("ports " + ", ".join(str(p.get("guest")) for p in ports if isinstance(p, dict)))
        out += ["- " + "; ".join(facts), ""]
    out += ["| Measurement | Measured | Goal | |", "|---|---|---|---|"]
    for name in ("kernel", "initrd", "rootfs.img"):
        if name in r.sizes:
            out.append(f"| {name} | {r.sizes[name]:,} bytes ({mb(r.sizes[name])}) | | |")
    if "total" in r.sizes:
        total = r.sizes["total"]
        out.append(
            f"| total size | {total:,} bytes ({mb(total)}) | {('≤ ' + _g(g.total_mb) + ' MB') if g else '—'} "
            f"| {check(total / 1e6, g.total_mb if g else None)} |"
        )
    for label, rr, checked, exact in _ready_variants(r):
        ms = rr.ms
        runs = " / ".join(fmt_ms(v) for v in rr.virtual_ms) or "—"
        if exact:
            det = {True: "deterministic", False: "**not deterministic**", None: "one boot"}[rr.deterministic]
            if rr.deterministic is False:
                det += f", spread {fmt_ms(rr.spread_ms)}"
        else:
            det = "one boot" if rr.spread_ms is None else f"spread {fmt_ms(rr.spread_ms)}; the slower counts"
        if checked:
            goal, mark = (("≤ " + _g(g.ready_ms) + " ms") if g else "—"), check(ms, g.ready_ms if g else None)
        else:
            goal, mark = "not checked (see the note on disk roots)", ""
        out.append(f"| virtual time to READY{label} | {runs} ({det}) | {goal} | {mark} |")
        walls = " / ".join(fmt_s(w) for w in rr.wall_s)
        statuses = " / ".join(str(s) if s is not None else "none" for s in rr.http_status)
        out.append(f"| wall time to READY under icount (this machine){label} | {walls or '—'} | | |")
        if _guest_port(r.manifest) is not None:
            out.append(f"| HTTP status of `GET /`{label} | {statuses or '—'} | 200 | "
                       f"{'✅' if rr.http_status and all(s == 200 for s in rr.http_status) else '❌'} |")
    if r.floor is not None:
        fl = r.floor.floor_mib
        out.append(
            f"| memory floor | {str(fl) + ' MiB' if fl is not None else 'none'} | "
            f"{('≤ ' + str(g.floor_mib) + ' MiB') if g else '—'} | {check(fl, g.floor_mib if g else None)} |"
        )
    for rb in r.rebuilds:
        label = "fresh Pants process, no pantsd" if rb.mode == "fresh" else "warm pantsd"
        goal = ("≤ " + _g(g.rebuild_s) + " s") if g else "—"
        out.append(f"| warm rebuild ({label}) | {fmt_s(rb.wall_s) if rb.wall_s is not None else 'failed'} | {goal} "
                   f"| {check(rb.wall_s, g.rebuild_s if g else None)} |")
        if rb.noop_wall_s is not None:
            out.append(f"| no-op `package` ({label}) | {fmt_s(rb.noop_wall_s)} | | |")
        if rb.kernel_rebuilt is not None:
            allowed = g.kernel_rebuild_allowed if g else True
            ok = "✅" if (allowed or not rb.kernel_rebuilt) else "❌"
            out.append(f"| kernel rebuilt ({label}) | {'yes' if rb.kernel_rebuilt else 'no'} | "
                       f"{'allowed' if allowed else 'no'} | {ok} |")
        if rb.runtime_layer_rebuilt is not None:
            allowed = g.runtime_layer_rebuild_allowed if g else True
            ok = "✅" if (allowed or not rb.runtime_layer_rebuilt) else "❌"
            out.append(f"| runtime layer rebuilt ({label}) | {'yes' if rb.runtime_layer_rebuilt else 'no'} | "
                       f"{'allowed' if allowed else 'no'} | {ok} |")
    out.append("")
    for label, rr, _, _ in _ready_variants(r):
        if rr.errors:
            out += [f"Boot problems{label}:", ""] + [f"- {e}" for e in rr.errors] + [""]
    if r.floor is not None and r.floor.probes:
        probes = ", ".join(f"{p.memory_mib} {'✓' if p.ok else '✗'}" for p in r.floor.probes)
        out += [f"Memory probes in order (MiB): {probes}.", ""]
    for rb in r.rebuilds:
        if rb.error:
            out += [f"Rebuild ({rb.mode}) failed: {rb.error.strip()[:500]}", ""]
    if r.rebuilds:
        edited = next((rb.edited for rb in r.rebuilds if rb.edited), "")
        if edited:
            out += [f"Edited file: `{edited}`.", ""]
        for rb in r.rebuilds:
            if rb.wall_s is None:
                continue
            label = "fresh process" if rb.mode == "fresh" else "pantsd"
            if rb.completed:
                out += [f"Processes that ran in the rebuild ({label}):", ""]
                out += [f"- {c}" for c in rb.completed] + [""]
            else:
                out += [f"No INFO process ran in the rebuild ({label}).", ""]
    notes = measured_notes(r, pants_startup_s) + list(static)
    if notes:
        out += ["### What limits it", ""] + [f"- {n}" for n in notes] + [""]
    return out


def _ready_variants(r: ImageReport) -> List[Tuple[str, ReadyResult, bool, bool]]:
    """[(row label suffix, READY result, checked against the goal, boots must agree)]."""
    if not r.disk_root:
        return [("", r.ready, True, True)] if r.ready is not None else []
    out = []
    if r.ready is not None:
        out.append((", plain icount", r.ready, False, True))
    if r.ready_poll is not None:
        out.append((f", `{IDLE_POLL_PARAM}` (disk waits at real latency)", r.ready_poll, True, False))
    return out


def measured_notes(r: ImageReport, pants_startup_s: Optional[float] = None) -> List[str]:
    """Explanations derived from the measurements."""
    notes: List[str] = []
    g = _goal(r)
    total = r.sizes.get("total")
    if total:
        parts = []
        for name in ("kernel", "initrd", "rootfs.img"):
            if name in r.sizes:
                parts.append(f"{name} {100 * r.sizes[name] / total:.0f}%")
        note = "Size: " + ", ".join(parts) + " of the total."
        if g is not None and "kernel" in r.sizes and r.sizes["kernel"] / 1e6 > g.total_mb:
            note += f" The kernel alone ({mb(r.sizes['kernel'])}) is over the {_g(g.total_mb)} MB goal."
        initrd_info = r.manifest.get("initrd") if isinstance(r.manifest.get("initrd"), dict) else None
        if initrd_info and initrd_info.get("unpacked_bytes") and "initrd" in r.sizes:
            note += (
                f" The initrd holds {initrd_info.get('entries', '?')} entries, "
                f"{int(initrd_info['unpacked_bytes']):,} bytes unpacked "
                f"({initrd_info.get('compression', '?')}: {r.sizes['initrd']:,} bytes)."
            )
        notes.append(note)
    if r.disk_root and r.ready is not None and r.ready_poll is not None:
        plain, poll = r.ready.ms, r.ready_poll.ms
        if plain is not None and poll is not None:
            note = (
                f"Disk root: plain icount gives {fmt_ms(plain)} to READY, `{IDLE_POLL_PARAM}` gives "
                f"{fmt_ms(poll)}"
            )
            if plain > poll:
                note += (
                    f": {fmt_ms(round(plain - poll, 3))} ({100 * (plain - poll) / plain:.0f}% of the plain "
                    "figure) is what icount adds when it warps virtual time to the next timer deadline each "
                    "time the guest idles waiting for a virtio-blk read (a tick is 4 ms at HZ=250), not time "
                    "the image needs"
                )
            note += (
                f". With `{IDLE_POLL_PARAM}` the guest busy-polls, so a disk wait counts at its real emulated "
                "latency (1 ns per instruction); the goal is checked against that figure. "
                f"`{IDLE_POLL_PARAM}` is set only for this measurement, not in the product's kernel command "
                "line: a polling guest would burn a host CPU all the time it is idle."
            )
            notes.append(note)
    gr = r.goal_ready
    if gr is not None and gr.ms is not None and g is not None and gr.ms > g.ready_ms:
        note = f"Boot: {fmt_ms(gr.ms)} of guest time to READY, {gr.ms / g.ready_ms:.1f}× the goal."
        initrd_bytes = r.sizes.get("initrd", 0)
        root = r.manifest.get("root") if isinstance(r.manifest.get("root"), dict) else {}
        if r.disk_root:
            what = " ".join(str(x) for x in (root.get("compression"), root.get("fstype")) if x) or "disk"
            note += f" The root is a {what} image"
            if "rootfs.img" in r.sizes:
                note += f" ({mb(r.sizes['rootfs.img'])}"
                if root.get("unpacked_bytes"):
                    note += f", {int(root['unpacked_bytes']):,} bytes unpacked"
                note += ")"
            note += (
                " read on demand, so the time is the kernel's boot, the reads and decompression of what "
                "the app loads, and the app's own start-up."
            )
        elif initrd_bytes < 1_000_000:
            note += (
                f" The initrd is only {initrd_bytes:,} bytes, so unpacking it is negligible: nearly all of it "
                "is the kernel's own boot (add `loglevel=7` to `kernel_args` and boot with `--icount` to "
                "see the printk timestamps)."
            )
        else:
            note += (
                f" Unpacking a {mb(initrd_bytes)} initramfs costs about 13–18 ms of guest time per MB "
                "(55–75 MB/s measured)."
            )
        notes.append(note)
    if r.floor is not None and r.floor.floor_mib is not None:
        below = r.floor.below()
        note = f"Memory: works at {r.floor.floor_mib} MiB"
        if below is not None:
            note += f"; at {below.memory_mib} MiB: {below.detail}"
        note += "."
        needed = r.manifest.get("memory_needed_mib")
        if needed is not None:
            note += f" The bundle's own estimate (`memory_needed_mib`) is {needed} MiB"
            if needed < r.floor.floor_mib:
                note += f", {r.floor.floor_mib - needed} MiB too low"
            asked = r.manifest.get("memory_mib")
            if asked is not None:
                note += f"; the image asks for {asked} MiB"
            note += "."
        notes.append(note)
    if r.ready is not None and r.ready.deterministic is False:
        notes.append(
            f"Determinism: the boots reached READY {fmt_ms(r.ready.spread_ms)} of guest time apart. Under "
            "icount only input from the host can change the guest's path: random numbers (RDRAND "
            "under `-cpu max`, virtio-rng), the wall-clock time the RTC gives at boot, network timing"
            + (
                "; and, for a disk root, when each virtio-blk read completes (host time) relative to "
                "icount's warps of virtual time to the next timer tick, so the plain figure of a disk root "
                f"varies from boot to boot and is not the one checked against the goal (`{IDLE_POLL_PARAM}` is)."
                if r.disk_root
                else "."
            )
        )
    for rb in r.rebuilds:
        if rb.wall_s is None:
            continue
        label = "in a fresh Pants process" if rb.mode == "fresh" else "with a warm pantsd"
        note = f"Rebuild {label}: {fmt_s(rb.wall_s)}"
        if rb.noop_wall_s is not None and rb.noop_wall_s >= rb.wall_s:
            note += (
                f"; the same `package` without a change took {fmt_s(rb.noop_wall_s)}, so the rebuild's "
                "own work is lost in Pants's overhead and the machine's noise"
            )
        elif rb.noop_wall_s is not None:
            note += (
                f"; the same `package` without a change takes {fmt_s(rb.noop_wall_s)}, so "
                f"{100 * rb.noop_wall_s / rb.wall_s:.0f}% is Pants's own overhead"
            )
        if rb.mode == "fresh" and pants_startup_s is not None:
            note += f" (starting Pants and reading the BUILD files alone takes {fmt_s(pants_startup_s)})"
        if rb.mode == "pantsd" and rb.start_wall_s is not None:
            note += f"; the run that started pantsd took {fmt_s(rb.start_wall_s)}"
        if rb.completed:
            note += f"; {len(rb.completed)} process(es) ran"
        if rb.kernel_rebuilt:
            note += ", **including the kernel build**"
        if rb.runtime_layer_rebuilt:
            note += ", **including the runtime layer**"
        note += "."
        notes.append(note)
    return notes


# --------------------------------------------------------------------------------------------
# Machine


def probe_machine(qemu_version: Optional[str] = None) -> Machine:
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        nproc = os.cpu_count() or 0
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    if qemu_version is None:
        try:
            qemu = launcher.find_qemu(None)
            out = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=30).stdout
            qemu_version = (out.splitlines() or ["unknown"])[0].strip()
        except (launcher.LaunchError, OSError, subprocess.SubprocessError) as e:
            qemu_version = f"not available ({e})"
    host = launcher.probe_host()
    virt = sorted({"vmx", "svm"} & set(host.cpu_flags))
    if host.kvm_usable and virt:
        kvm = f"usable (/dev/kvm opens, CPU flag {', '.join(virt)}); the benchmarks use TCG anyway"
    elif host.kvm_usable:
        kvm = "not usable: /dev/kvm opens but the CPU shows no vmx/svm flag; everything runs under TCG"
    else:
        kvm = "not usable (/dev/kvm does not open read-write); everything runs under TCG"
    return Machine(nproc=nproc, cpu_model=cpu, qemu=qemu_version, kvm=kvm, python=sys.version.split()[0])


def load_average() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return ""


def pants_version(buildroot: Path) -> str:
    try:
        m = re.search(r'^pants_version\s*=\s*"([^"]+)"', (buildroot / "pants.toml").read_text(), re.M)
        return m.group(1) if m else ""
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# Measuring


def log(msg: str) -> None:
    print(f"[benchmarks {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, repo: RepoCopy, args: argparse.Namespace) -> None:
        self.repo = repo
        self.args = args
        self.entries: Dict[str, Dict[str, Any]] = {}  # address -> its `peek` entry
        self.startup_s: Optional[float] = None  # wall time of the first `peek` (a fresh Pants process)
        self.runtimes: Dict[str, str] = {}  # address -> manifest runtime
        self.main_sources: Dict[str, Optional[str]] = {}

    # --- Pants -------------------------------------------------------------------------------

    def pants(self, *args: str, use_pantsd: bool = False) -> Tuple[Any, float]:
        log("pants " + " ".join(args) + (" (pantsd)" if use_pantsd else ""))
        start = time.monotonic()
        result = self.repo.run(*args, use_pantsd=use_pantsd)
        wall = time.monotonic() - start
        log(f"  exit {result.exit_code} after {wall:.1f} s")
        return result, wall

    def peek(self, *specs: str) -> Optional[List[Dict[str, Any]]]:
        result, wall = self.pants("peek", *specs)
        if result.exit_code != 0:
            log(f"  `peek {' '.join(specs)}` failed:\n{result.stderr[-2000:]}")
            return None
        try:
            entries = list(json.loads(result.stdout or "[]"))
        except ValueError:
            log(f"  `peek` printed no JSON: {result.stdout[:500]!r}")
            return None
        if self.startup_s is None:
            self.startup_s = wall
        for e in entries:
            self.entries[e.get("address", "")] = e
        return entries

    def discover(self) -> Tuple[List[str], List[Tuple[str, str]]]:
        """(images to measure, [(address, why skipped)]).

        One `peek testprojects::` gives every target with its type, tags, dependencies and
        sources: the images, and the apps whose main source the rebuild measurement edits.
        (One Pants run rather than `list` + `peek`: a fresh Pants process costs tens of seconds
        on these machines.)
        """
        specs = ["testprojects::"] + [f"-{d}::" for d in SKIP_DIRS if (self.repo.root / d).is_dir()]
        entries = self.peek(*specs)
        if entries is None:
            # A broken BUILD file somewhere: look at each top-level project directory on its own.
            log("`peek testprojects::` failed; trying each directory")
            entries = []
            for d in sorted(p for p in (self.repo.root / "testprojects").iterdir() if p.is_dir()):
                spec = f"testprojects/{d.name}"
                if not skip_reason(spec + ":x", ()):
                    entries += self.peek(f"{spec}::") or []
        chosen, skipped = [], []
        images = sorted(
            {e.get("address", "") for e in entries if e.get("target_type") == "unikernel_image"} - {""}
        )
        for address in images:
            why = skip_reason(address, self.entries[address].get("tags") or [])
            if why:
                skipped.append((address, why))
            elif matches_filters(address, self.args.images):
                chosen.append(address)
        return chosen, skipped

    def package(self, addresses: Sequence[str]) -> Dict[str, str]:
        """Package the images; {address: error} for those that failed."""
        if not addresses:
            return {}
        result, _ = self.pants("package", *addresses)
        if result.exit_code == 0:
            return {}
        errors = {}
        for a in addresses:
            r, _ = self.pants("package", a)
            if r.exit_code != 0:
                errors[a] = "`pants package` failed:\n" + r.stderr[-3000:]
        return errors

    def find_bundle(self, address: str) -> Optional[Path]:
        dist = self.repo.root / "dist"
        for manifest in sorted(dist.glob("**/manifest.json")):
            try:
                if json.loads(manifest.read_text()).get("target") == address:
                    return manifest.parent
            except (OSError, ValueError):
                continue
        return None

    def find_main_sources(self, images: Sequence[str]) -> None:
        """Fill self.main_sources: the app's main source file of each image, from the `peek`
        entries of the image's direct dependencies. (Not `filedeps`: for a target with two
        sources fields, like c_program's `sources` and `headers`, Pants's `filedeps` and peek's
        `sources` show only the field whose alias sorts first.)"""
        missing = set()
        for a in images:
            self.main_sources[a], m = find_main_source(a, self.entries, self.runtimes.get(a, ""), self._expand)
            if self.main_sources[a] is None:
                missing.update(m)
        # Apps outside testprojects/ were not in the first `peek`: look them up only if needed.
        if missing:
            self.peek(*sorted(missing))
            for a in images:
                if self.main_sources[a] is None:
                    self.main_sources[a], _ = find_main_source(
                        a, self.entries, self.runtimes.get(a, ""), self._expand
                    )
        for a in images:
            log(f"{a}: main source {self.main_sources[a]}")

    def _expand(self, pattern: str) -> List[str]:
        root = self.repo.root
        return sorted(str(p.relative_to(root)) for p in root.glob(pattern) if p.is_file())

    # --- Boots -------------------------------------------------------------------------------

    def boot(self, bundle: Path, manifest: Dict[str, Any], settings: ImageSettings, **options: Any) -> Any:
        guest = _guest_port(manifest)
        kwargs: Dict[str, Any] = dict(
            accel="tcg", ready=settings.ready, stop_after_ready=True, quiet=True, **options
        )
        if guest is not None:
            kwargs.update(http_get=f"{guest}{settings.http_path}")
        for attempt in range(3):
            if guest is not None:
                kwargs["ports"] = [(launcher.free_port(), guest)]
            else:
                kwargs["no_ports"] = True
            result = launcher.boot(str(bundle), **kwargs)
            # Another process took the free port between free_port() and QEMU: try another.
            if "Could not set up host forwarding rule" not in (result.stderr or ""):
                return result
        return result

    def measure_ready(
        self, bundle: Path, manifest: Dict[str, Any], settings: ImageSettings, kernel_params: Sequence[str] = ()
    ) -> ReadyResult:
        out = ReadyResult()
        runs = 1 if self.args.quick else 2
        extra: Dict[str, Any] = {"kernel_params": list(kernel_params)} if kernel_params else {}
        for i in range(runs):
            log(f"  icount boot {i + 1}/{runs}" + (f" with {' '.join(kernel_params)}" if kernel_params else ""))
            try:
                res = self.boot(bundle, manifest, settings, icount=True, timeout=READY_BOOT_TIMEOUT_S, **extra)
            except launcher.LaunchError as e:
                out.virtual_ms.append(None)
                out.wall_s.append(None)
                out.http_status.append(None)
                out.errors.append(f"boot {i + 1}: launch error: {e}")
                continue
            ms = parse_ready_ms(res.ready_line, settings.ready)
            out.virtual_ms.append(ms)
            out.wall_s.append(res.ready_wall_s)
            out.http_status.append(res.http_status)
            log(f"    {res.ready_line!r} HTTP {res.http_status}, {res.wall_s:.1f} s wall")
            if ms is None or res.exit_code != 0:
                ok, what = classify_boot(res, _guest_port(manifest) is not None)
                msg = res.message or what
                tail = "\n".join(res.output.strip().splitlines()[-5:])
                out.errors.append(f"boot {i + 1}: {msg}" + (f" (console ends: `{tail[-300:]}`)" if tail else ""))
        return out

    def measure_floor(self, bundle: Path, manifest: Dict[str, Any], settings: ImageSettings) -> FloorResult:
        http = _guest_port(manifest) is not None

        def ok(mib: int) -> Tuple[bool, str]:
            try:
                res = self.boot(bundle, manifest, settings, memory_mib=mib, timeout=FLOOR_BOOT_TIMEOUT_S)
            except launcher.LaunchError as e:
                good, what = False, f"launch error: {e}"
            else:
                good, what = classify_boot(res, http)
            log(f"  {mib} MiB: {what}")
            return good, what

        start = int(manifest.get("memory_mib") or 64)
        try:
            result = bisect_floor(ok, start)
            if result.floor_mib is not None:
                good, what = ok(result.floor_mib)
                result.confirmed = good
                if not good:
                    result.probes.append(Probe(result.floor_mib, False, what + " (confirmation boot)"))
        except Exception as e:  # noqa: BLE001 - report, do not abort the whole report
            return FloorResult(None, error=f"{type(e).__name__}: {e}")
        return result

    # --- Rebuilds ----------------------------------------------------------------------------

    def measure_rebuild(self, address: str, source: str, use_pantsd: bool) -> RebuildResult:
        mode = "pantsd" if use_pantsd else "fresh"
        rb = RebuildResult(mode=mode, edited=source)
        path = self.repo.root / source
        original = path.read_text()
        try:
            if use_pantsd:
                r, rb.start_wall_s = self.pants("package", address, use_pantsd=True)
                if r.exit_code != 0:
                    rb.error = "starting pantsd: " + r.stderr[-2000:]
                    return rb
                if not self.repo.pantsd_pids():
                    rb.error = "pantsd did not start (no live pid in .pids/*/pantsd/pid of the copy)"
                    return rb
            r, rb.noop_wall_s = self.pants("package", address, use_pantsd=use_pantsd)
            if r.exit_code != 0:
                rb.error = "no-op package: " + r.stderr[-2000:]
                rb.noop_wall_s = None
                return rb
            nonce = uuid.uuid4().hex[:12]
            path.write_text(append_comment(original, source, nonce))
            if use_pantsd:
                time.sleep(0.5)  # let pantsd's file watcher see the change before the run
            r, wall = self.pants("package", address, use_pantsd=use_pantsd)
            rb.completed = completed_lines(r.stderr)
            if r.exit_code != 0:
                rb.error = "rebuild: " + r.stderr[-2000:]
                return rb
            rb.wall_s = wall
            for c in rb.completed:
                log(f"    ran: {c}")
            return rb
        finally:
            path.write_text(original)
            if use_pantsd:
                self.repo.stop_pantsd()

    # --- All ---------------------------------------------------------------------------------

    def measure(self, address: str) -> ImageReport:
        report = ImageReport(address=address)
        settings = IMAGE_SETTINGS.get(address, ImageSettings())
        bundle = self.find_bundle(address)
        if bundle is None:
            report.error = "no bundle with this target in dist/ after `pants package`"
            return report
        report.manifest = json.loads((bundle / "manifest.json").read_text())
        report.runtime = str(report.manifest.get("runtime") or "?")
        report.sizes = bundle_sizes(report.manifest, bundle)
        log(f"{address}: {report.sizes}")
        if not self.args.skip_boot:
            for name, params in ready_kernel_params(report.manifest):
                result = self.measure_ready(bundle, report.manifest, settings, kernel_params=params)
                if params:
                    report.ready_poll = result
                else:
                    report.ready = result
        if not (self.args.skip_floor or self.args.quick or self.args.skip_boot):
            log(f"{address}: memory floor")
            report.floor = self.measure_floor(bundle, report.manifest, settings)
        if not self.args.skip_rebuild:
            source = self.main_sources.get(address)
            if source is None:
                report.error = "could not find the app's main source file for the rebuild measurement"
            else:
                report.rebuilds.append(self.measure_rebuild(address, source, use_pantsd=False))
                if not self.args.quick:
                    report.rebuilds.append(self.measure_rebuild(address, source, use_pantsd=True))
        return report


def _guest_port(manifest: Dict[str, Any]) -> Optional[int]:
    """The first guest port the image forwards (the one its HTTP check uses)."""
    ports = launcher.manifest_ports(manifest)
    return ports[0][1] if ports else None


# --------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=COMMAND, description="Measure the unikernel images in testprojects/.")
    p.add_argument(
        "--images", action="append", default=[], metavar="PATTERN",
        help="only images whose address matches (fnmatch; `dir` or `dir::` work too); repeatable, "
        "or comma-separated",
    )
    p.add_argument("--skip-floor", action="store_true", help="do not bisect the memory floor")
    p.add_argument("--skip-rebuild", action="store_true", help="do not measure warm rebuilds")
    p.add_argument("--skip-boot", action="store_true", help="do not boot at all (sizes and rebuilds only)")
    p.add_argument(
        "--quick", action="store_true",
        help="development: skip the memory floor, boot once, and time only the fresh-process rebuild",
    )
    p.add_argument("--output", default=DEFAULT_OUTPUT, help=f"markdown file to write (default {DEFAULT_OUTPUT})")
    p.add_argument("--keep", action="store_true", help="keep the temporary repository copy")
    p.add_argument(
        "--only-reproducibility", action="store_true",
        help="measure nothing: render the reproducibility section of the existing report anew from "
        "the figures file (after a run of tests/reproducibility_integration_test.py)",
    )
    p.add_argument(
        "--reproducibility-figures", metavar="FILE", default="",
        help=f"the figures tests/reproducibility_integration_test.py recorded (default $TMPDIR/{FIGURES_FILE})",
    )
    return p


def _report_flags(args: argparse.Namespace) -> List[str]:
    flags = []
    for pat in args.images:
        flags.append(f"--images {pat}")
    for name in ("quick", "skip_floor", "skip_rebuild", "skip_boot"):
        if getattr(args, name):
            flags.append("--" + name.replace("_", "-"))
    return flags


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.images = [p.strip() for spec in args.images for p in spec.split(",") if p.strip()]
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    buildroot = source_root()
    output = Path(args.output)
    if not output.is_absolute():
        output = buildroot / output
    figures_file = Path(args.reproducibility_figures) if args.reproducibility_figures else None
    if args.only_reproducibility:
        if not output.is_file():
            log(f"--only-reproducibility: {output} does not exist yet; run the whole report first")
            return 1
        output.write_text(replace_reproducibility(output.read_text(encoding="utf-8"), read_figures(figures_file)), encoding="utf-8")
        print(output)
        return 0
    load_before = load_average()
    tmp = Path(tempfile.mkdtemp(prefix="unikernel-benchmarks-"))
    log(f"copying the repository to {tmp / 'repo'}")
    repo = RepoCopy(tmp / "repo", src=buildroot)
    bench = Bench(repo, args)
    reports: List[ImageReport] = []
    try:
        images, skipped = bench.discover()
        log(f"images: {images or 'none'}; skipped: {skipped or 'none'}")
        errors = bench.package(images)
        for address in images:
            bundle = bench.find_bundle(address)
            if bundle is not None:
                with contextlib.suppress(OSError, ValueError):
                    bench.runtimes[address] = json.loads((bundle / "manifest.json").read_text()).get("runtime", "")
        if not args.skip_rebuild:
            bench.find_main_sources([a for a in images if a not in errors])
        for address in images:
            if address in errors:
                reports.append(ImageReport(address=address, error=errors[address]))
                continue
            try:
                reports.append(bench.measure(address))
            except Exception as e:  # noqa: BLE001 - one broken image must not lose the others' numbers
                log(f"{address}: measuring failed: {type(e).__name__}: {e}")
                reports.append(ImageReport(address=address, error=f"measuring failed: {type(e).__name__}: {e}"))
    finally:
        repo.stop_pantsd()
        repo.cleanup()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    machine = probe_machine()
    machine.pants = pants_version(buildroot)
    machine.load_before, machine.load_after = load_before, load_average()
    machine.pants_startup_s = bench.startup_s
    text = render_markdown(
        reports,
        machine,
        datetime.datetime.now(datetime.timezone.utc),
        flags=_report_flags(args),
        skipped=skipped,
        reproducibility=read_figures(figures_file),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
