"""Formatting of figures and the cells of the summary table (one row per image)."""

from __future__ import annotations

from typing import Dict, List, Optional

from benchmarks.results import FLOOR_UPPER_MIB, IDLE_POLL_PARAM, ImageReport, ReadyResult
from benchmarks.settings import GOALS, Goal, extra_debian_packages

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


def marked(text: str, value: Optional[float], goal: Optional[float]) -> str:
    """`text` with ✅/❌ against `goal`; `text` alone if there is no goal."""
    return text if goal is None else f"{text} {check(value, goal)}"


def goal_of(r: ImageReport, goals: Optional[Dict[str, Goal]] = None) -> Optional[Goal]:
    """The goals of the image (by address); None for an image without goals."""
    return (GOALS if goals is None else goals).get(r.address)


def _ready_value(rr: Optional[ReadyResult], goal_ms: Optional[float], exact: bool = True) -> str:
    """One READY (or exit) figure for the summary: the slowest boot, checked against `goal_ms` if
    given; `exact`: the boots must agree (plain icount), else a spread is expected (idle=poll)."""
    if rr is None:
        return "—"
    ms = rr.ms
    if ms is None:
        if rr.reached_without_clock:
            walls = [w for w in rr.wall_s if w is not None]
            wall = f"; wall {fmt_s(max(walls))} on this machine" if walls else ""
            return f"— ({rr.event} reached, no virtual clock{wall})"
        return f"❌ no {rr.event}" if rr.errors else "—"
    cell = fmt_ms(ms) + (" to exit" if rr.until_exit else "")
    cell += f" {check(ms, goal_ms)}" if goal_ms is not None else ""
    if exact and rr.deterministic is False:
        cell += f" (not deterministic: boots differ by {fmt_ms(rr.spread_ms)})"
    return cell


def _ready_cell(r: ImageReport) -> str:
    g = goal_of(r)
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
    g = goal_of(r)
    if r.floor is None:
        return "—"
    if r.floor.floor_mib is None:
        return f"❌ none ≤ {FLOOR_UPPER_MIB} MiB" if not r.floor.error else "❌ error"
    cell = marked(f"{r.floor.floor_mib} MiB", r.floor.floor_mib, g.floor_mib if g else None)
    if r.floor.confirmed is False:
        cell += " (unstable)"
    return cell


def _rebuild_cell(r: ImageReport, mode: str) -> str:
    g = goal_of(r)
    rb = r.rebuild(mode)
    if rb is None:
        return "—"
    if rb.wall_s is None:
        return "❌ failed"
    return marked(fmt_s(rb.wall_s), rb.wall_s, g.rebuild_s if g else None)


def _rebuilt_cell(r: ImageReport, what: str) -> str:
    """`what`: "kernel" or "runtime_layer" (RebuildResult.<what>_rebuilt, Goal.<what>_rebuild_allowed).
    Checked only for an image with goals."""
    flags = [getattr(rb, what + "_rebuilt") for rb in r.rebuilds]
    flags = [f for f in flags if f is not None]
    if not flags:
        return "—"
    rebuilt = any(flags)
    g = goal_of(r)
    if g is None:
        return "yes" if rebuilt else "no"
    if rebuilt:
        return "yes " + ("✅" if getattr(g, what + "_rebuild_allowed") else "❌")
    return "no ✅"


def _kernel_cell(r: ImageReport) -> str:
    return _rebuilt_cell(r, "kernel")


def extra_packages_figure(r: ImageReport) -> str:
    """The Debian packages the image adds to its runtime's, as recorded in its manifest."""
    extra = extra_debian_packages(r.manifest)
    if extra is None:
        return "not recorded in manifest.json (`app.extra_debian_packages`)"
    return f"{len(extra)}" + (f" ({', '.join(extra)})" if extra else "")


def _goals_cell(r: ImageReport) -> str:
    """The image's goals; a goal without a column of its own (extra Debian packages) is checked here."""
    g = goal_of(r)
    if g is None:
        return "—"
    cell = g.summary()
    if g.extra_debian_packages is not None:
        extra = extra_debian_packages(r.manifest)
        if extra is None:
            cell += " (extra packages: not recorded)"
        else:
            cell += f" (extra packages: {len(extra)} {check(len(extra), g.extra_debian_packages)})"
    return cell


def _summary_row(r: ImageReport) -> str:
    if r.error and not r.sizes:
        return (f"| `{r.address}` | {r.runtime} | ❌ {r.error.splitlines()[0][:80]} | — | — | — | — | — | — "
                f"| {_goals_cell(r)} |")
    g = goal_of(r)
    total = r.sizes.get("total")
    size = marked(mb(total), total / 1e6 if total is not None else None, g.total_mb if g else None)
    return (
        f"| `{r.address}` | {r.runtime} | {size} | {_ready_cell(r)} | {_floor_cell(r)} | "
        f"{_rebuild_cell(r, 'fresh')} | {_rebuild_cell(r, 'pantsd')} | {_kernel_cell(r)} | "
        f"{_rebuilt_cell(r, 'runtime_layer')} | {_goals_cell(r)} |"
    )


SUMMARY_HEADER: List[str] = [
    "| Image | Runtime | Total size | Virtual ms to ready (or to exit) | Memory floor | "
    "Warm rebuild (fresh process) | Warm rebuild (pantsd) | Kernel rebuilt | Runtime layer rebuilt | Goals |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
