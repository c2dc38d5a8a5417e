"""Measuring images: packaging them in a repository copy, booting them, timing rebuilds."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmarks.analysis import (
    append_comment,
    bisect_floor,
    bundle_sizes,
    classify_boot,
    STATS_LOG,
    completed_lines,
    processes_run,
    find_main_source,
    matches_filters,
    parse_ready_ms,
    ready_kernel_params,
    skip_reason,
)
from benchmarks.render_image import guest_port
from benchmarks.results import (
    FLOOR_BOOT_TIMEOUT_S,
    READY_BOOT_TIMEOUT_S,
    SKIP_DIRS,
    FloorResult,
    ImageReport,
    Machine,
    Probe,
    ReadyResult,
    RebuildResult,
)
from benchmarks.settings import FIELD, ImageSettings, Overrides, SettingsError, exit_virtual_ms, image_settings
from pants_repo import RepoCopy
from unikernel_rules.qemu import launcher


class BenchError(Exception):
    """A problem that stops the whole run (one paragraph, no traceback)."""

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
        self.overrides: Overrides = getattr(args, "overrides", Overrides())

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

        With addresses on the command line: every `unikernel_image` they name (any directory;
        specs like `dir::` work). Otherwise one `peek testprojects::` gives every target with its
        type, tags, dependencies and sources: the images, and the apps whose main source the
        rebuild measurement edits. (One Pants run rather than `list` + `peek`: a fresh Pants
        process costs tens of seconds on these machines.)
        """
        if self.args.addresses:
            entries = self.peek(*self.args.addresses)
            if entries is None:
                raise BenchError(
                    f"`pants peek {' '.join(self.args.addresses)}` failed (see its output above): check "
                    "that each address exists, e.g. with `./pants list ADDRESS`."
                )
            chosen = sorted({e.get("address", "") for e in entries if e.get("target_type") == "unikernel_image"} - {""})
            skipped = sorted(
                (e.get("address", ""), f"a `{e.get('target_type')}`, not a unikernel_image")
                for e in entries
                if e.get("target_type") != "unikernel_image" and e.get("address") in self.args.addresses
            )
            return [a for a in chosen if matches_filters(a, self.args.images)], skipped
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

    def settings(self, address: str) -> ImageSettings:
        """How to measure `address`: its `benchmark` field (from `peek`) and the command line."""
        return image_settings(address, self.entries.get(address, {}).get(FIELD), self.overrides)

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
        """One boot: until the ready line (then stopped; HTTP checked if the image has a port and
        an `http_path`), or, for a batch app, until it exits."""
        guest = guest_port(manifest)
        kwargs: Dict[str, Any] = dict(accel="tcg", quiet=True, **options)
        if manifest.get("volumes"):
            # Fresh, empty volumes at every boot (so boots are alike), in the run's temp dir.
            kwargs.update(volumes_dir=str(self.volumes_dir(str(manifest.get("target") or bundle.name))),
                          wipe_volumes=True)
        if settings.until_exit:
            kwargs["no_ports"] = True
            return launcher.boot(str(bundle), **kwargs)
        kwargs.update(ready=settings.ready, stop_after_ready=True)
        if guest is not None and settings.http_path is not None:
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

    def volumes_dir(self, address: str) -> Path:
        """Where an image's volumes live during the run (beside the repository copy)."""
        return self.repo.root.parent / "volumes" / re.sub(r"[^A-Za-z0-9_.-]+", "_", address)

    def measure_ready(
        self, bundle: Path, manifest: Dict[str, Any], settings: ImageSettings, kernel_params: Sequence[str] = ()
    ) -> ReadyResult:
        out = ReadyResult(until_exit=settings.until_exit)
        runs = 1 if self.args.quick else 2
        http = guest_port(manifest) is not None and settings.http_path is not None
        extra: Dict[str, Any] = {"kernel_params": list(kernel_params)} if kernel_params else {}
        for i in range(runs):
            log(f"  icount boot {i + 1}/{runs}" + (f" with {' '.join(kernel_params)}" if kernel_params else ""))
            try:
                res = self.boot(bundle, manifest, settings, icount=True, timeout=READY_BOOT_TIMEOUT_S, **extra)
            except launcher.LaunchError as e:
                out.virtual_ms.append(None)
                out.wall_s.append(None)
                out.http_status.append(None)
                out.reached.append(False)
                out.errors.append(f"boot {i + 1}: launch error: {e}")
                continue
            ok, what = classify_boot(res, http, until_exit=settings.until_exit)
            if settings.until_exit:
                ms, wall = exit_virtual_ms(res.output), res.exit_wall_s
                log(f"    exit status {res.app_exit}, virtual ms {ms}, {res.wall_s:.1f} s wall")
            else:
                ms, wall = parse_ready_ms(res.ready_line, settings.ready), res.ready_wall_s
                log(f"    {res.ready_line!r} HTTP {res.http_status}, {res.wall_s:.1f} s wall")
            out.virtual_ms.append(ms)
            out.wall_s.append(wall)
            out.http_status.append(res.http_status)
            out.reached.append(ok)
            if not ok:
                msg = res.message or what
                tail = "\n".join(res.output.strip().splitlines()[-5:])
                out.errors.append(f"boot {i + 1}: {msg}" + (f" (console ends: `{tail[-300:]}`)" if tail else ""))
        return out

    def measure_floor(self, bundle: Path, manifest: Dict[str, Any], settings: ImageSettings) -> FloorResult:
        http = guest_port(manifest) is not None and settings.http_path is not None

        def ok(mib: int) -> Tuple[bool, str]:
            try:
                res = self.boot(bundle, manifest, settings, memory_mib=mib, timeout=FLOOR_BOOT_TIMEOUT_S)
            except launcher.LaunchError as e:
                good, what = False, f"launch error: {e}"
            else:
                good, what = classify_boot(res, http, until_exit=settings.until_exit)
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
        if not path.is_file():
            rb.error = (f"the file to edit, {source}, does not exist (paths are relative to the build root; "
                        "set it with the image's `benchmark` field key `edit` or `--edit ADDRESS=FILE`)")
            return rb
        original = path.read_text()
        try:
            # `--stats-log` on every run (the same options: pantsd is not restarted): its
            # counters say how many processes ran, those logged at debug level included.
            if use_pantsd:
                r, rb.start_wall_s = self.pants(STATS_LOG, "package", address, use_pantsd=True)
                if r.exit_code != 0:
                    rb.error = "starting pantsd: " + r.stderr[-2000:]
                    return rb
                if not self.repo.pantsd_pids():
                    rb.error = "pantsd did not start (no live pid in .pids/*/pantsd/pid of the copy)"
                    return rb
            r, rb.noop_wall_s = self.pants(STATS_LOG, "package", address, use_pantsd=use_pantsd)
            if r.exit_code != 0:
                rb.error = "no-op package: " + r.stderr[-2000:]
                rb.noop_wall_s = None
                return rb
            nonce = uuid.uuid4().hex[:12]
            path.write_text(append_comment(original, source, nonce))
            if use_pantsd:
                time.sleep(0.5)  # let pantsd's file watcher see the change before the run
            r, wall = self.pants(STATS_LOG, "package", address, use_pantsd=use_pantsd)
            rb.completed = completed_lines(r.stderr)
            rb.processes_run = processes_run(r.stderr)
            if r.exit_code != 0:
                rb.error = "rebuild: " + r.stderr[-2000:]
                return rb
            rb.wall_s = wall
            for c in rb.completed:
                log(f"    ran: {c}")
            log(f"    processes run in all (--stats-log): {rb.processes_run}")
            return rb
        finally:
            path.write_text(original)
            if use_pantsd:
                self.repo.stop_pantsd()

    # --- All ---------------------------------------------------------------------------------

    def measure(self, address: str) -> ImageReport:
        report = ImageReport(address=address)
        try:
            settings = report.settings = self.settings(address)
        except SettingsError as e:
            report.error = str(e)
            return report
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
            source = settings.edit or self.main_sources.get(address)
            if source is None:
                report.error = (
                    "could not find the app's main source file for the rebuild measurement: name it with "
                    f"`benchmark={{\"edit\": \"path/to/file\"}}` on the image or `--edit {address}=path/to/file`"
                )
            else:
                report.rebuilds.append(self.measure_rebuild(address, source, use_pantsd=False))
                if not self.args.quick:
                    report.rebuilds.append(self.measure_rebuild(address, source, use_pantsd=True))
        return report
