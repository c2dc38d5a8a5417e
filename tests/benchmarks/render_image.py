"""The markdown report: one section per image, and the notes derived from its measurements."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmarks.cells import _g, check, extra_packages_figure, fmt_ms, fmt_s, goal_of, mb
from benchmarks.results import IDLE_POLL_PARAM, ImageReport, ReadyResult
from benchmarks.settings import Goal, extra_debian_packages
from unikernel_rules.qemu import launcher


def guest_port(manifest: Dict[str, Any]) -> Optional[int]:
    """The first guest port the image forwards (the one its HTTP check uses)."""
    ports = launcher.manifest_ports(manifest)
    return ports[0][1] if ports else None


def _goal_text(g: Optional[Goal], name: str, unit: str) -> str:
    value = getattr(g, name) if g is not None else None
    return "—" if value is None else f"≤ {_g(value)} {unit}"


def _goal_value(g: Optional[Goal], name: str) -> Optional[float]:
    return getattr(g, name) if g is not None else None


def _image_section(r: ImageReport, static: Sequence[str], pants_startup_s: Optional[float] = None) -> List[str]:
    g = goal_of(r)
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
        out += ["- " + "; ".join(facts)]
        out += [f"- Measured {r.settings.describe(guest_port(m) is not None)}.", ""]
    out += ["| Measurement | Measured | Goal | |", "|---|---|---|---|"]
    for name in ("kernel", "initrd", "rootfs.img"):
        if name in r.sizes:
            out.append(f"| {name} | {r.sizes[name]:,} bytes ({mb(r.sizes[name])}) | | |")
    if "total" in r.sizes:
        total = r.sizes["total"]
        out.append(
            f"| total size | {total:,} bytes ({mb(total)}) | {_goal_text(g, 'total_mb', 'MB')} "
            f"| {check(total / 1e6, _goal_value(g, 'total_mb'))} |"
        )
    if g is not None and g.extra_debian_packages is not None:
        limit = "none" if g.extra_debian_packages == 0 else f"≤ {g.extra_debian_packages}"
        added = extra_debian_packages(r.manifest)
        mark = check(None if added is None else len(added), g.extra_debian_packages)
        out.append(f"| extra Debian packages | {extra_packages_figure(r)} | {limit} | {mark} |")
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
            goal, mark = _goal_text(g, "ready_ms", "ms"), check(ms, _goal_value(g, "ready_ms"))
        else:
            goal, mark = "not checked (see the note on disk roots)", ""
        if rr.reached_without_clock:
            runs, det = "—", ("reached; " + ("init printed no clock at exit" if rr.until_exit
                                             else "the ready pattern captures no clock"))
        out.append(f"| virtual time to {rr.event}{label} | {runs} ({det}) | {goal} | {mark} |")
        walls = " / ".join(fmt_s(w) for w in rr.wall_s)
        statuses = " / ".join(str(s) if s is not None else "none" for s in rr.http_status)
        out.append(f"| wall time to {rr.event} under icount (this machine){label} | {walls or '—'} | | |")
        if guest_port(r.manifest) is not None and r.settings.http_path is not None and not rr.until_exit:
            out.append(f"| HTTP status of `GET {r.settings.http_path}`{label} | {statuses or '—'} | 200 | "
                       f"{'✅' if rr.http_status and all(s == 200 for s in rr.http_status) else '❌'} |")
    if r.floor is not None:
        fl = r.floor.floor_mib
        out.append(
            f"| memory floor | {str(fl) + ' MiB' if fl is not None else 'none'} | "
            f"{_goal_text(g, 'floor_mib', 'MiB')} | {check(fl, _goal_value(g, 'floor_mib'))} |"
        )
    for rb in r.rebuilds:
        label = "fresh Pants process, no pantsd" if rb.mode == "fresh" else "warm pantsd"
        goal = _goal_text(g, "rebuild_s", "s")
        out.append(f"| warm rebuild ({label}) | {fmt_s(rb.wall_s) if rb.wall_s is not None else 'failed'} | {goal} "
                   f"| {check(rb.wall_s, _goal_value(g, 'rebuild_s'))} |")
        if rb.noop_wall_s is not None:
            out.append(f"| no-op `package` ({label}) | {fmt_s(rb.noop_wall_s)} | | |")
        if rb.kernel_rebuilt is not None:
            out.append(f"| kernel rebuilt ({label}) | {'yes' if rb.kernel_rebuilt else 'no'} | "
                       f"{_rebuilt_goal(g, 'kernel', rb.kernel_rebuilt)} |")
        if rb.runtime_layer_rebuilt is not None:
            out.append(f"| runtime layer rebuilt ({label}) | {'yes' if rb.runtime_layer_rebuilt else 'no'} | "
                       f"{_rebuilt_goal(g, 'runtime_layer', rb.runtime_layer_rebuilt)} |")
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
            hidden = (rb.processes_run or 0) - len(rb.completed)
            quiet = (
                f" ({rb.processes_run} in all by Pants' `--stats-log`; the other {hidden} log at "
                "debug level, e.g. the SBOM document)"
                if hidden > 0
                else ""
            )
            if rb.completed:
                out += [f"Processes that ran in the rebuild ({label}), as Pants logs them at info level{quiet}:", ""]
                out += [f"- {c}" for c in rb.completed] + [""]
            else:
                out += [f"No INFO process ran in the rebuild ({label}){quiet}.", ""]
    notes = measured_notes(r, pants_startup_s) + list(static)
    if notes:
        out += ["### What limits it", ""] + [f"- {n}" for n in notes] + [""]
    return out


def _rebuilt_goal(g: Optional[Goal], what: str, rebuilt: bool) -> str:
    """The Goal and check cells of a "kernel / runtime layer rebuilt" row."""
    if g is None:
        return "— | "
    allowed = getattr(g, what + "_rebuild_allowed")
    return f"{'allowed' if allowed else 'no'} | {'✅' if (allowed or not rebuilt) else '❌'}"


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
    g = goal_of(r)
    total = r.sizes.get("total")
    if total:
        parts = []
        for name in ("kernel", "initrd", "rootfs.img"):
            if name in r.sizes:
                parts.append(f"{name} {100 * r.sizes[name] / total:.0f}%")
        note = "Size: " + ", ".join(parts) + " of the total."
        if g is not None and g.total_mb is not None and "kernel" in r.sizes and r.sizes["kernel"] / 1e6 > g.total_mb:
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
    if gr is not None and gr.ms is not None and g is not None and g.ready_ms is not None and gr.ms > g.ready_ms:
        note = f"Boot: {fmt_ms(gr.ms)} of guest time to {gr.event}, {gr.ms / g.ready_ms:.1f}× the goal."
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
        ran = rb.processes_run if rb.processes_run is not None else len(rb.completed)
        if ran:
            note += f"; {ran} process(es) ran"
        if rb.kernel_rebuilt:
            note += ", **including the kernel build**"
        if rb.runtime_layer_rebuilt:
            note += ", **including the runtime layer**"
        note += "."
        notes.append(note)
    return notes


