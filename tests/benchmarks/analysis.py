"""Pure helpers of the benchmark report: bisection, parsing, picking sources, sizes."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from remote_cache import parse_counters
from benchmarks.results import (
    FLOOR_LOWER_MIB,
    FLOOR_UPPER_MIB,
    IDLE_POLL_PARAM,
    SKIP_DIRS,
    SKIP_TAG,
    SOURCE_EXTENSIONS,
    FloorResult,
    Probe,
    root_kind,
)

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


STATS_LOG = "--stats-log"  # Pants prints its counters at the end of the run


def processes_run(stderr: str) -> Optional[int]:
    """How many cacheable processes ran (local cache misses) in a run with `--stats-log`, those
    logged at debug level (the SBOM, the initramfs) included; None without the counters."""
    counters = parse_counters(stderr)
    if "local_cache_requests_uncached" not in counters:
        return None
    return counters["local_cache_requests_uncached"]


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


def classify_boot(result: Any, http_expected: bool, until_exit: bool = False) -> Tuple[bool, str]:
    """(success, what happened) for a launcher BootResult of a floor probe. `until_exit`: a
    batch app, booted until it exits; success is exit status 0."""
    output = getattr(result, "output", "") or ""
    if result.timed_out:
        return False, "hang (timed out)"
    if result.panicked:
        return False, f"kernel panic ({(result.panic_line or '').strip()[:80]})"
    if result.app_exit == 125 or (result.ready_line is None and result.exit_code == 125):
        return False, "init stopped with status 125 (not enough memory / incomplete initramfs)"
    if "Initramfs unpacking failed" in output:
        return False, "initramfs unpacking failed"
    if until_exit:
        if result.app_exit is None:
            if not output.strip():
                return False, "no console output (the VM reset or stopped before the kernel printed anything)"
            return False, f"no exit status from init (launcher exit {result.exit_code})"
        if result.app_exit != 0:
            return False, f"the app exited with status {result.app_exit}"
        return True, "ok"
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

