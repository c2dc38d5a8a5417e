"""Bootable disks (`unikernel_image(formats=[...])`, docs/formats.md): what each format costs in
bytes, in boot time and in build time, measured in one run on one machine.

    ./pants run tests/benchmarks:disk-formats          # ~15-25 min on 2 cores (warm cache)
    ./pants run tests/benchmarks:disk-formats -- --boots 1 --rebuilds 1    # quicker

In a temporary copy of the repository, with a pantsd of that copy:

1. `pants package` of every image in IMAGES; the size of each format's file from the image's
   manifest.json ("files"), beside the bundle's total (kernel + initrd + cmdline + rootfs.img).
2. Each image booted under `-icount shift=0,sleep=off` (1 ns per guest instruction:
   deterministic virtual time) from the bundle (QEMU `-kernel`), from its first disk through
   BIOS (SeaBIOS) and through UEFI (OVMF), to its READY line: the app's CLOCK_MONOTONIC there
   (the kernel's clock, which starts after firmware and kernel decompression) and, for the C
   app, its TSC (`tsc_ms=`): under icount QEMU's TSC is the virtual clock since QEMU started, so
   it counts firmware, boot loader and decompression too ("from reset"). A UEFI boot that does
   not reach READY within UEFI_ICOUNT_TIMEOUT_S of wall time under icount is measured again
   without icount, as wall time only.
   Both images have a disk root, so each path is booted twice over, like the report's disk-root
   rows: as built (plain icount: whenever the guest idles waiting for a virtio-blk read, icount
   warps virtual time to the next timer deadline, which makes the figure vary with the host's
   load) and with `idle=poll` (the guest busy-polls, so a disk wait counts at its emulated
   latency). A disk holds its own kernel command line (nothing is appended at boot), so
   `idle=poll` is added to the copy's BUILD file as `kernel_args` and the images are packaged
   again (command line, initramfs and disks only: the kernel is the same). A measurement
   setting only, never the product's.
3. Build time after a one-line app change (a unique printf added to the C app's main(), so the
   binary changes and everything after it rebuilds): `pants package` with the warm pantsd,
   REBUILDS times with the image's formats as written, then REBUILDS times with its `formats`
   field rewritten to ["bundle"]; the difference is what the disks add to an edit-build cycle.

The figures go to `$TMPDIR/unikernel-rules-disk-formats.json` and into the "Bootable disks"
section of docs/benchmarks.md (rendered again by every `tests/benchmarks:report` run, also with
`--only-reproducibility`). Reproducibility of every format is checked by
tests/reproducibility_integration_test.py (its own section), not here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import figures as figures_file
from benchmarks import sections
from benchmarks.analysis import completed_lines
from benchmarks.results import IDLE_POLL_PARAM

FIGURES = "unikernel-rules-disk-formats.json"
HEADING = "## Bootable disks (`formats`)"
COMMAND = "./pants run tests/benchmarks:disk-formats"
REPRO_ANCHOR = "#reproducibility-and-remote-cache-all-testprojects-images"

READY_RE = r"READY.*?monotonic_ms=([0-9.]+)"
TSC_RE = re.compile(r"\btsc_ms=([0-9.]+)")
MONOTONIC_RE = re.compile(r"\bmonotonic_ms=([0-9.]+)")

GOAL_C_DISK_MB = 2.5  # the C example's UEFI disk, in MB (1e6 bytes)
GOAL_REBUILD_EXTRA_S = 2.0  # all formats vs the bundle alone, after a one-line app change
UEFI_ICOUNT_TIMEOUT_S = 240.0
BOOT_TIMEOUT_S = 180.0
DISK_FILES = {"raw": "disk.raw", "qcow2": "disk.qcow2", "vmdk": "disk.vmdk", "vhd": "disk.vhd", "gce": "disk.tar.gz"}


@dataclass(frozen=True)
class Image:
    address: str
    dist: str  # the output directory under dist/
    source: str  # the app's main source (the rebuild edits it)
    tsc: bool  # the app prints tsc_ms= at READY
    goal_mb: Optional[float] = None
    rebuild: bool = False


IMAGES = [
    Image("testprojects/c/disk_hello:image", "testprojects.c.disk_hello/image",
          "testprojects/c/disk_hello/main.c", tsc=True, goal_mb=GOAL_C_DISK_MB, rebuild=True),
    Image("testprojects/python/hello_http:image", "testprojects.python.hello_http/image",
          "testprojects/python/hello_http/main.py", tsc=False),
]


def read_figures(path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    return figures_file.read_figures(FIGURES, path)


# --------------------------------------------------------------------------------------------
# Pure helpers


def format_files(manifest: Dict[str, Any]) -> List[Dict[str, Any]]:
    """[{format, file, size}] in the manifest's `formats` order; the bundle's file is the sum of
    its files ("kernel + initrd + ...")."""
    files = manifest.get("files") or {}
    formats = manifest.get("formats") or {}
    rows = []
    for name in sorted(formats, key=lambda n: formats[n].get("order", 0)):
        entry = formats[name]
        if name == "bundle":
            names = list(entry.get("files") or [])
            size = sum(int(files[n]["size"]) for n in names if n in files)
            rows.append({"format": name, "file": " + ".join(names), "size": size})
        else:
            file = entry.get("file") or DISK_FILES.get(name, "?")
            size = files.get(file, {}).get("size")
            rows.append({"format": name, "file": file, "size": None if size is None else int(size)})
    return rows


def boot_plan(manifest: Dict[str, Any]) -> List[Tuple[str, str, Optional[str]]]:
    """[(label, format, firmware)]: the bundle, then the image's first disk through BIOS and UEFI
    (raw if it built one: no conversion in the way)."""
    formats = manifest.get("formats") or {}
    plan: List[Tuple[str, str, Optional[str]]] = []
    if "bundle" in formats:
        plan.append(("bundle", "bundle", None))
    disks = [n for n in sorted(formats, key=lambda n: formats[n].get("order", 0)) if n != "bundle"]
    if disks:
        disk = "raw" if "raw" in disks else disks[0]
        plan += [("bios", disk, "bios"), ("uefi", disk, "uefi")]
    return plan


def parse_ready(line: Optional[str]) -> Tuple[Optional[float], Optional[float]]:
    """(monotonic_ms, tsc_ms) of a READY line; None where absent."""
    if not line:
        return None, None
    m, t = MONOTONIC_RE.search(line), TSC_RE.search(line)
    return (float(m.group(1)) if m else None), (float(t.group(1)) if t else None)


def rewrite_formats(build: str, formats: Sequence[str]) -> str:
    """A BUILD file's (single) `formats=[...]` field set to `formats`."""
    new, n = re.subn(r"formats\s*=\s*\[[^\]]*\]", "formats=" + json.dumps(list(formats)), build)
    if n != 1:
        raise ValueError(f"expected one `formats=[...]` field in the BUILD file, found {n}")
    return new


def add_kernel_args(build: str, args: Sequence[str]) -> str:
    """A BUILD file whose (single) `unikernel_image(` gets `kernel_args=[...]` as its first field."""
    if "kernel_args" in build:
        raise ValueError("the BUILD file already sets kernel_args")
    new, n = re.subn(r"^unikernel_image\(\n", "unikernel_image(\n    kernel_args=" + json.dumps(list(args)) + ",\n",
                     build, flags=re.M)
    if n != 1:
        raise ValueError(f"expected one `unikernel_image(` in the BUILD file, found {n}")
    return new


def edit_c_source(text: str, nonce: str) -> str:
    """`text` with `printf("benchmark edit <nonce>\\n");` as main()'s first statement: a change
    that reaches the binary (a comment would not: the compile would run, its output would not
    change, and nothing after it would rebuild)."""
    m = re.search(r"^int main\([^)]*\)\s*\{\n", text, re.M)
    if not m:
        raise ValueError("no `int main(...) {` in the C source")
    return text[: m.end()] + f'    printf("benchmark edit {nonce}\\n");\n' + text[m.end() :]


def summarize_boots(boots: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The figures of one boot path from its boots: the slowest READY (kernel clock and TSC),
    whether all agree, the wall times."""
    ok = [b for b in boots if b.get("monotonic_ms") is not None]
    out: Dict[str, Any] = {"boots": len(boots), "reached": len(ok), "wall_s": [b.get("wall_s") for b in boots]}
    if ok:
        mono = [b["monotonic_ms"] for b in ok]
        out["monotonic_ms"] = max(mono)
        out["monotonic_all"] = mono
        out["deterministic"] = len(set(mono)) == 1 and len(ok) == len(boots)
        tsc = [b["tsc_ms"] for b in ok if b.get("tsc_ms") is not None]
        if tsc:
            out["tsc_ms"] = max(tsc)
            out["tsc_all"] = tsc
            out["tsc_deterministic"] = len(set(tsc)) == 1
    errors = [b["error"] for b in boots if b.get("error")]
    if errors:
        out["error"] = errors[0]
    return out


def mean(xs: Sequence[Optional[float]]) -> Optional[float]:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


# --------------------------------------------------------------------------------------------
# Measuring (real Pants, real QEMU)


def log(msg: str) -> None:
    print(f"[disk-formats {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _boot_once(bundle: Path, fmt: str, firmware: Optional[str], icount: bool, timeout: float) -> Dict[str, Any]:
    from unikernel_rules.qemu import launcher

    kwargs: Dict[str, Any] = {} if fmt == "bundle" else {"format": fmt, "firmware": firmware}
    start = time.monotonic()
    try:
        r = launcher.boot(
            str(bundle), accel="tcg", icount=icount, timeout=timeout, quiet=True, no_ports=True,
            ready=READY_RE, stop_after_ready=True, **kwargs,
        )
    except Exception as e:  # noqa: BLE001 - a figure missing, not the whole run
        return {"error": f"{type(e).__name__}: {e}", "wall_s": round(time.monotonic() - start, 1)}
    mono, tsc = parse_ready(r.ready_line)
    out: Dict[str, Any] = {
        "icount": icount, "ready_line": r.ready_line, "monotonic_ms": mono, "tsc_ms": tsc,
        "wall_s": round(r.ready_wall_s if r.ready_wall_s is not None else r.wall_s, 1),
        "timed_out": r.timed_out,
    }
    if mono is None:
        out["error"] = (r.message or ("timed out" if r.timed_out else "no READY line")).strip()[:300]
    log(f"  {fmt}/{firmware or '-'} icount={icount}: {r.ready_line!r} wall {out['wall_s']} s")
    return out


def measure_boots(bundle: Path, manifest: Dict[str, Any], boots: int) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for label, fmt, firmware in boot_plan(manifest):
        timeout = UEFI_ICOUNT_TIMEOUT_S if firmware == "uefi" else BOOT_TIMEOUT_S
        runs = []
        for _ in range(boots):
            b = _boot_once(bundle, fmt, firmware, icount=True, timeout=timeout)
            runs.append(b)
            if b.get("monotonic_ms") is None:
                break
        entry = summarize_boots(runs)
        entry.update(format=fmt, firmware=firmware, icount=True)
        if firmware == "uefi" and entry.get("monotonic_ms") is None:
            # OVMF under icount: too slow (or stuck) on this machine; wall time without icount.
            log(f"  UEFI under icount did not reach READY in {timeout:.0f} s: again without icount")
            plain = _boot_once(bundle, fmt, firmware, icount=False, timeout=BOOT_TIMEOUT_S)
            entry = {"format": fmt, "firmware": firmware, "icount": False, "icount_error": entry.get("error"),
                     "icount_timeout_s": timeout, "wall_s": [plain.get("wall_s")], "reached": int("error" not in plain),
                     "boots": 1, **({"error": plain["error"]} if "error" in plain else {})}
        result[label] = entry
    return result


def _package(repo: Any, address: str) -> Tuple[Any, float]:
    log(f"pants package {address} (pantsd)")
    start = time.monotonic()
    r = repo.run("package", address)
    wall = time.monotonic() - start
    log(f"  exit {r.exit_code} after {wall:.1f} s")
    return r, wall


def measure_rebuilds(repo: Any, image: Image, rebuilds: int) -> Dict[str, Any]:
    """Warm-pantsd rebuild times after a one-line edit of the app, with the image's formats and
    with `formats=["bundle"]`. The BUILD file and the source are restored afterwards."""
    build_path = repo.root / image.address.split(":")[0] / "BUILD"
    source_path = repo.root / image.source
    build, source = build_path.read_text(), source_path.read_text()
    formats = json.loads((re.search(r"formats\s*=\s*(\[[^\]]*\])", build) or [None, "[]"])[1].replace("'", '"'))
    out: Dict[str, Any] = {"edited": image.source, "variants": []}
    try:
        for label, fmts in (("formats", formats), ("bundle", ["bundle"])):
            build_path.write_text(build if label == "formats" else rewrite_formats(build, fmts))
            time.sleep(0.5)
            r, _ = _package(repo, image.address)  # the graph for this BUILD file (not timed)
            if r.exit_code != 0:
                out["error"] = f"package ({label}): " + r.stderr[-1500:]
                return out
            r, noop = _package(repo, image.address)
            variant: Dict[str, Any] = {"label": label, "formats": fmts, "noop_s": round(noop, 2), "runs": []}
            for _ in range(rebuilds):
                source_path.write_text(edit_c_source(source, uuid.uuid4().hex[:12]))
                time.sleep(0.5)  # let pantsd's file watcher see the change before the run
                r, wall = _package(repo, image.address)
                if r.exit_code != 0:
                    out["error"] = f"rebuild ({label}): " + r.stderr[-1500:]
                    return out
                ran = completed_lines(r.stderr)
                for c in ran:
                    log(f"    ran: {c}")
                variant["runs"].append({"wall_s": round(wall, 2), "completed": ran})
            out["variants"].append(variant)
    finally:
        build_path.write_text(build)
        source_path.write_text(source)
    walls = {v["label"]: mean([r["wall_s"] for r in v["runs"]]) for v in out["variants"]}
    if walls.get("formats") is not None and walls.get("bundle") is not None:
        out["extra_s"] = round(walls["formats"] - walls["bundle"], 2)
    return out


def measure(work: Path, boots: int, rebuilds: int, skip_rebuild: bool = False) -> Dict[str, Any]:
    from benchmarks.measure import load_average
    from pants_repo import RepoCopy

    started = time.monotonic()
    figures = sections.start_figures(boots_per_path=boots, images={})
    repo = RepoCopy(work / "repo")
    try:
        for image in IMAGES:
            r, wall = _package(repo, image.address)
            entry: Dict[str, Any] = {"package_s": round(wall, 1)}
            figures["images"][image.address] = entry
            if r.exit_code != 0:
                entry["error"] = "pants package failed: " + r.stderr[-1500:]
                continue
            bundle = repo.root / "dist" / image.dist
            manifest = json.loads((bundle / "manifest.json").read_text())
            entry["files"] = format_files(manifest)
            entry["kernel_fragments"] = manifest.get("kernel", {}).get("fragments")
            log(f"{image.address}: {entry['files']}")
            entry["boots"] = measure_boots(bundle, manifest, boots)
        # Again with idle=poll on the kernel command line (in the copy only).
        for image in IMAGES:
            entry = figures["images"][image.address]
            if "error" in entry:
                continue
            build_path = repo.root / image.address.split(":")[0] / "BUILD"
            build = build_path.read_text()
            build_path.write_text(add_kernel_args(build, [IDLE_POLL_PARAM]))
            try:
                time.sleep(0.5)
                r, _ = _package(repo, image.address)
                if r.exit_code != 0:
                    entry["poll_error"] = "pants package (idle=poll) failed: " + r.stderr[-1500:]
                    continue
                bundle = repo.root / "dist" / image.dist
                manifest = json.loads((bundle / "manifest.json").read_text())
                entry["boots_poll"] = measure_boots(bundle, manifest, boots)
            finally:
                build_path.write_text(build)
        time.sleep(0.5)
        figures["load_before_rebuild"] = load_average()
        if not skip_rebuild:
            for image in IMAGES:
                if image.rebuild and "error" not in figures["images"][image.address]:
                    figures["images"][image.address]["rebuild"] = measure_rebuilds(repo, image, rebuilds)
    finally:
        repo.cleanup()
    figures["load_end"] = load_average()
    figures["duration_s"] = round(time.monotonic() - started)
    return figures


# --------------------------------------------------------------------------------------------
# Markdown


def _mb(n: Optional[int], note: str = "") -> str:
    return "—" if n is None else f"{n:,} bytes ({n / 1e6:.2f} MB{note})"


def _ms(x: Optional[float]) -> str:
    if x is None:
        return "—"
    return f"{x:.0f} ms" if x >= 100 else f"{x:.1f} ms"


def _s(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:.1f} s"


def _short(address: str) -> str:
    return address.replace("testprojects/", "").split(":")[0]


def _size_rows(address: str, image: Dict[str, Any], goal_mb: Optional[float]) -> List[str]:
    rows = []
    files = image.get("files") or []
    bundle = next((f["size"] for f in files if f["format"] == "bundle"), None)
    for f in files:
        rel = "" if f["format"] == "bundle" or not bundle or f["size"] is None else f", {f['size'] / bundle:.2f}× the bundle"
        if goal_mb is not None and f["format"] != "bundle":
            ok = f["size"] is not None and f["size"] <= goal_mb * 1e6
            goal, mark = f"≤ {goal_mb} MB", "✅" if ok else "❌"
        else:
            goal, mark = "", ""
        rows.append(f"| `{_short(address)}` | {f['format']} | `{f['file']}` | {_mb(f['size'], rel)} | {goal} | {mark} |")
    return rows


_BOOT_LABELS = {"bundle": "bundle (`-kernel`, SeaBIOS loads it)", "bios": "disk, BIOS (SeaBIOS → syslinux)",
                "uefi": "disk, UEFI (OVMF → systemd-boot stub)"}


def _values(b: Dict[str, Any], key: str, same: bool) -> str:
    """The slowest boot's figure, or every boot's when they differ."""
    vals = b.get(key.replace("_ms", "_all")) or [b[key]]
    if same or len(vals) < 2:
        return _ms(max(vals)) + (" (deterministic)" if len(vals) > 1 else "")
    shown = [_ms(v) for v in vals]
    if len(set(shown)) == 1:  # apart by less than the shown precision
        return f"{shown[0]} (spread {max(vals) - min(vals):.2f} ms)"
    return " / ".join(shown) + " (**varies**)"


def _boot_row(address: str, label: str, b: Dict[str, Any], tsc: bool, variant: str) -> str:
    what = _BOOT_LABELS.get(label, label) + ("" if label == "bundle" else f", `{b.get('format')}`")
    what = f"{what} | {variant}"
    walls = " / ".join(f"{w:.1f} s" for w in b.get("wall_s") or [] if w is not None) or "—"
    if not b.get("icount", True):
        err = b.get("icount_error") or f"no READY in {b.get('icount_timeout_s', 0):.0f} s"
        reached = "reached READY" if not b.get("error") else f"failed: {b['error']}"
        return (f"| `{_short(address)}` | {what} | — (under icount: {err}) | — | — | without icount: {walls} "
                f"({reached}) |")
    if b.get("monotonic_ms") is None:
        return f"| `{_short(address)}` | {what} | — ({b.get('error', 'no READY')}) | — | — | {walls} |"
    mono = _values(b, "monotonic_ms", bool(b.get("deterministic")))
    if tsc and b.get("tsc_ms") is not None:
        from_reset = _values(b, "tsc_ms", bool(b.get("tsc_deterministic")))
        before = _ms(b["tsc_ms"] - b["monotonic_ms"])
    else:
        from_reset, before = ("— (no TSC figure)" if tsc else "— (Python: kernel clock only)"), "—"
    return f"| `{_short(address)}` | {what} | {mono} | {from_reset} | {before} | {walls} |"


def render(figures: Optional[Dict[str, Any]]) -> List[str]:
    lines = ["", HEADING, ""]
    if not figures:
        lines.append(f"Not measured on this machine yet: `{COMMAND}` (~20 min).")
        return lines
    f = figures
    m = f.get("machine") or {}
    lines += [
        f"Measured {f['measured']} by `{COMMAND}` in {f.get('duration_s', 0) / 60:.0f} min, on this machine: "
        f"{m.get('nproc', '?')} CPUs ({m.get('cpu', '?')}), {m.get('qemu', '?')}, TCG (KVM {m.get('kvm', '?')}), "
        f"Pants {m.get('pants', '?')}; load average at the start {f.get('load_start', '?')}, "
        f"before the rebuilds {f.get('load_before_rebuild', '?')}, at the end {f.get('load_end', '?')} "
        "(a shared machine). What each format holds and how it is built: docs/formats.md.",
        "",
        "### Sizes",
        "",
        "Each format's file as the image's manifest.json lists it, beside the bundle's total. `disk.raw` and",
        "`disk.vhd` (fixed) are whole MiB and hold every zero (~1 MiB before the ESP, slack after it); qcow2,",
        "vmdk (streamOptimized) and the GCE tarball store no zero clusters. The goal is the C example's",
        "UEFI-bootable disk; every disk format is one (the same raw disk, converted), so each is shown against it.",
        "",
        "| Image | Format | File | Size | Goal | |",
        "|---|---|---|---|---|---|",
    ]
    images = f.get("images") or {}
    goals = {i.address: i for i in IMAGES}
    for address, image in images.items():
        if image.get("error"):
            lines.append(f"| `{_short(address)}` | — | — | {image['error'].splitlines()[-1][:200]} | | ❌ |")
            continue
        spec = goals.get(address)
        lines += _size_rows(address, image, spec.goal_mb if spec else None)
    lines.append(f"| every format | | | reproducible: see [Reproducibility and remote cache]({REPRO_ANCHOR}) "
                 "(compared byte for byte there, not re-measured here) | yes | |")
    lines += [
        "",
        "### Time to READY (virtual, `-icount shift=0,sleep=off`)",
        "",
        "Each image booted to its READY line under icount (1 ns per guest instruction, the same on every run",
        f"and machine; {f.get('boots_per_path', 1)} boot(s) per path, the slowest counts). *Kernel clock*: the app's",
        "`CLOCK_MONOTONIC` at READY, which starts after firmware, boot loader and kernel decompression.",
        "*From reset*: the C app's TSC at READY (`tsc_ms=`, rdtsc / 10⁶): under icount QEMU 7.2's TSC is",
        "its virtual clock, counted from QEMU's start, so it includes everything before the kernel clock",
        "(the next column is the difference). The Python app prints no TSC (CPython has no rdtsc, and",
        "`time.monotonic()` is the kernel clock), so only its kernel-clock figure is given. Wall times are",
        "this machine's, under icount (TCG runs the guest's idle time too: they are not a boot-time figure).",
        f"Both images have a disk root: the `{IDLE_POLL_PARAM}` rows are the figures (the guest busy-polls while",
        "it waits for a virtio-blk read, so the wait counts at its emulated latency, as in the report's",
        "disk-root rows); the rows as built show what plain icount gives, where every idle disk wait warps",
        "virtual time to the next timer deadline, which varies with the host's load. A disk carries its own",
        f"command line, so for those rows `{IDLE_POLL_PARAM}` was added to the copy's BUILD file (`kernel_args`) and",
        "the images packaged again (a measurement setting, never the product's).",
        "",
        "| Image | Boot | Kernel command line | Kernel clock at READY | From reset (TSC) | Before the kernel clock "
        "| Wall time to READY |",
        "|---|---|---|---|---|---|---|",
    ]
    order = lambda label: list(_BOOT_LABELS).index(label) if label in _BOOT_LABELS else 9  # noqa: E731
    for address, image in images.items():
        spec = goals.get(address)
        for key, variant in (("boots_poll", f"+ `{IDLE_POLL_PARAM}`"), ("boots", "as built (plain icount)")):
            boots = image.get(key) or {}
            for label in sorted(boots, key=order):
                lines.append(_boot_row(address, label, boots[label], bool(spec and spec.tsc), variant))
        if image.get("poll_error"):
            lines.append(f"| `{_short(address)}` | — | + `{IDLE_POLL_PARAM}` | {image['poll_error'].splitlines()[-1][:200]} "
                         "| | | |")
    for address, image in images.items():
        rb = image.get("rebuild")
        if not rb:
            continue
        lines += [
            "",
            f"### Rebuild after a one-line app change (warm pantsd, `{_short(address)}`)",
            "",
            f"`pants package {address}` with a warm pantsd of a copy of the repository, after a unique",
            f"`printf` was added to `{rb['edited']}`'s `main()` (a change that reaches the binary, so the",
            "rootfs, initramfs and every format after it rebuild; the kernel never does); each run timed",
            "from the command's start to its end. First with the image's formats as written, then with its",
            "`formats` field rewritten to `[\"bundle\"]`. Pants' INFO log names only the compile in both",
            "(the rootfs, initramfs and disk processes log at DEBUG); what the disks add is the raw disk, each",
            "conversion and the disk's own initramfs, one cached process each (docs/formats.md).",
            "",
            "| Formats | No-op `package` | Rebuilds after an edit | Mean |",
            "|---|---|---|---|",
        ]
        for v in rb.get("variants") or []:
            walls = [r["wall_s"] for r in v["runs"]]
            lines.append(f"| {', '.join(v['formats'])} | {v['noop_s']:.1f} s | "
                         f"{' / '.join(f'{w:.1f} s' for w in walls)} | {_s(mean(walls))} |")
        if rb.get("extra_s") is not None:
            ok = rb["extra_s"] <= GOAL_REBUILD_EXTRA_S
            lines += ["", "| Figure | Measured | Goal | |", "|---|---|---|---|",
                      f"| all formats over the bundle alone (mean) | {rb['extra_s']:+.1f} s | ≤ {GOAL_REBUILD_EXTRA_S:.0f} s | "
                      f"{'✅' if ok else '❌'} |"]
        if rb.get("error"):
            lines += ["", f"Not complete: {rb['error'].splitlines()[-1][:300]}"]
    return lines


def replace_section(markdown: str, figures: Optional[Dict[str, Any]]) -> str:
    """`markdown` with its bootable disks section rendered anew."""
    return sections.replace(markdown, HEADING, render(figures))


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--boots", type=int, default=2, help="boots per image and boot path (default 2)")
    p.add_argument("--rebuilds", type=int, default=2, help="timed rebuilds per formats variant (default 2)")
    p.add_argument("--skip-rebuild", action="store_true", help="sizes and boots only")
    args = p.parse_args(argv)
    return sections.measure_in_temp(
        "disk-formats-", measure, FIGURES, replace_section,
        boots=args.boots, rebuilds=args.rebuilds, skip_rebuild=args.skip_rebuild,
    )


if __name__ == "__main__":
    sys.exit(main())
