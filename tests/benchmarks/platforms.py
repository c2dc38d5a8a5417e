"""Platforms (`unikernel_image(platform=...)`, docs/platforms.md): each platform image of
testprojects/platforms, its kernel and disk sizes, and a boot from its disk with the platform's
own QEMU devices, measured in one run on one machine.

    ./pants run tests/benchmarks:platforms          # ~5-10 min on 2 cores (kernels cached)

In a temporary copy of the repository: `pants package testprojects/platforms::`; per image the
kernel's size, the disk file's size and the bundle's total from its manifest.json; then BOOTS
boots of its disk through SeaBIOS under `-icount shift=0,sleep=off`, with the platform's disk
controller and NIC (devices.py of the launcher), to the READY line (the app's CLOCK_MONOTONIC:
the kernel clock, so it includes the kernel's DHCP exchange but not firmware) with `GET /` on
the forwarded port, which must answer 200. Plain icount: every idle wait (a disk read, the
DHCP reply) warps virtual time to the next timer deadline, so the figure can vary with the
host's load; it is a comparison between platforms, not a boot-time goal.

The figures go to `$TMPDIR/unikernel-rules-platforms.json` and into the "Platforms" section of
docs/benchmarks.md (rendered again by every `tests/benchmarks:report` run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import figures as figures_file
from benchmarks import sections
from benchmarks.disk_formats import READY_RE, _mb, _ms, parse_ready

FIGURES = "unikernel-rules-platforms.json"
HEADING = "## Platforms (`platform`)"
COMMAND = "./pants run tests/benchmarks:platforms"
TARGETS = "testprojects/platforms::"
BOOT_TIMEOUT_S = 240.0
EMULATED = {  # what the boot here stands in for (docs/platforms.md)
    "gce": "its own devices",
    "aws": "NVMe its own; virtio-net stands in for ENA",
    "azure": "virtio stand-ins for VMBus storvsc/netvsc",
    "vmware": "its own devices",
    "virtualbox": "its own devices",
}


def read_figures(path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    return figures_file.read_figures(FIGURES, path)


def log(msg: str) -> None:
    print(f"[platforms {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def image_entry(manifest: Dict[str, Any]) -> Dict[str, Any]:
    """What the report shows of one built platform image (from its manifest.json)."""
    files = manifest.get("files") or {}
    platform = manifest.get("platform") or {}
    disk = next((n for n in sorted(manifest.get("formats") or {}) if n != "bundle"), None)
    disk_file = (manifest["formats"][disk] or {}).get("file") if disk else None
    return {
        "platform": platform.get("name"),
        "devices": f"{platform.get('disk')} + {platform.get('nic')}",
        "kernel_bytes": (files.get("kernel") or {}).get("size"),
        "fragment": (manifest.get("kernel") or {}).get("fragments", [None])[-1],
        "format": disk,
        "disk_bytes": (files.get(disk_file) or {}).get("size") if disk_file else None,
        "bundle_bytes": manifest.get("total_bytes"),
    }


def boot_disk(bundle: Path, fmt: str) -> Dict[str, Any]:
    from unikernel_rules.qemu import launcher

    start = time.monotonic()
    try:
        r = launcher.boot(
            str(bundle), accel="tcg", icount=True, timeout=BOOT_TIMEOUT_S, quiet=True, format=fmt,
            firmware="bios", ready=READY_RE, stop_after_ready=True, http_get="8080/",
        )
    except Exception as e:  # noqa: BLE001 - a figure missing, not the whole run
        return {"error": f"{type(e).__name__}: {e}", "wall_s": round(time.monotonic() - start, 1)}
    mono, _ = parse_ready(r.ready_line)
    out = {"monotonic_ms": mono, "http_status": r.http_status,
           "wall_s": round(r.ready_wall_s if r.ready_wall_s is not None else r.wall_s, 1)}
    if mono is None or r.http_status != 200:
        out["error"] = (r.message or ("timed out" if r.timed_out else "no READY/HTTP")).strip()[:300]
    log(f"  {bundle.name} {fmt}: {r.ready_line!r} HTTP {r.http_status} wall {out['wall_s']} s")
    return out


def measure(work: Path, boots: int) -> Dict[str, Any]:
    from benchmarks.measure import load_average
    from pants_repo import RepoCopy

    started = time.monotonic()
    figures = sections.start_figures(boots=boots, images={})
    repo = RepoCopy(work / "repo")
    try:
        r = repo.run("package", TARGETS)
        if r.exit_code != 0:
            figures["error"] = "pants package failed: " + r.stderr[-1500:]
            return figures
        for bundle in sorted((repo.root / "dist").glob("testprojects.platforms/*")):
            entry = image_entry(json.loads((bundle / "manifest.json").read_text()))
            entry["boots"] = [boot_disk(bundle, entry["format"]) for _ in range(boots)]
            figures["images"][f"testprojects/platforms:{bundle.name}"] = entry
    finally:
        repo.cleanup()
    figures["load_end"] = load_average()
    figures["duration_s"] = round(time.monotonic() - started)
    return figures


def _boot_cell(boots: List[Dict[str, Any]]) -> str:
    if not boots:
        return "—"
    errors = [b["error"] for b in boots if b.get("error")]
    if errors:
        return f"❌ {errors[0]}"
    return " / ".join(_ms(b["monotonic_ms"]) for b in boots) + " (HTTP 200 ✅)"


def render(figures: Optional[Dict[str, Any]]) -> List[str]:
    lines = [HEADING, ""]
    if not figures:
        return lines + [f"Not measured on this machine yet: `{COMMAND}`."]
    m = figures["machine"]
    lines += [
        f"Measured {figures['measured']} by `{COMMAND}` in {figures.get('duration_s', 0) / 60:.0f} min, on this "
        f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['qemu']}, TCG, Pants {m['pants']}; load average "
        f"at the start {figures.get('load_start')}, at the end {figures.get('load_end')}. One kernel per platform "
        "(its `platform-<name>` fragment last); each disk booted through SeaBIOS with the platform's QEMU devices "
        f"({figures['boots']} boot(s)), its address from DHCP, `GET /` answered. *READY*: the app's CLOCK_MONOTONIC "
        "(kernel clock, DHCP included) under plain icount, where idle waits warp virtual time: a comparison, not a goal. "
        "What each platform holds: docs/platforms.md. Every disk boot keeps ACPI (the disk's command line is "
        "its own), whose PCI interrupt-link allocation under `-M pc` costs ~190 ms of guest time per PCI device "
        "(docs/formats.md, \"Booting them\"); the gce image is the Python flaskr app (CPython's start dominates).",
        "",
    ]
    if figures.get("error"):
        return lines + [f"❌ {figures['error']}"]
    lines += ["| Image | Platform | Kernel | Disk | QEMU devices | READY from the disk (BIOS) | Goal |",
              "|---|---|---|---|---|---|---|"]
    for address, e in sorted(figures["images"].items()):
        booted = all(not b.get("error") for b in e.get("boots") or [{}])
        lines.append(
            f"| `{address}` | `{e['platform']}` | {_mb(e['kernel_bytes'])} | `{e['format']}` {_mb(e['disk_bytes'])} | "
            f"{e['devices']} ({EMULATED.get(e['platform'], '')}) | {_boot_cell(e.get('boots') or [])} | "
            f"booted {'✅' if booted else '❌'} |"
        )
    return lines


def replace_section(markdown: str, figures: Optional[Dict[str, Any]]) -> str:
    return sections.replace(markdown, HEADING, render(figures))


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--boots", type=int, default=1, help="boots per image (default 1)")
    args = p.parse_args(argv)
    return sections.measure_in_temp("platforms-", measure, FIGURES, replace_section, boots=args.boots)


if __name__ == "__main__":
    sys.exit(main())
