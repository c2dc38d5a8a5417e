"""The markdown report: the document (header, method, goals, summary table, sections)."""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmarks.cells import SUMMARY_HEADER, _g, _summary_row, fmt_s
from benchmarks.notes import STATIC_NOTES
from benchmarks.render_image import _image_section
from benchmarks.reproducibility import render_reproducibility
from benchmarks.results import (
    COMMAND,
    FLOOR_BOOT_TIMEOUT_S,
    FLOOR_LOWER_MIB,
    FLOOR_UPPER_MIB,
    IDLE_POLL_PARAM,
    ImageReport,
    Machine,
)
from benchmarks.settings import DEFAULT_READY, EXIT_CLOCK_RE, GOALS, NO_HTTP, Goal
from unikernel_rules.rootfs.layer_rules import RUNTIME_LAYER_MARKER

HOW_TO_HEADING = "## Measuring any image"
# Command-line flags that leave measurements out (the others choose images or settings).
SKIPPING_FLAGS = ("--quick", "--skip-floor", "--skip-rebuild", "--skip-boot")


def render_how_to() -> List[str]:
    """The section that says how to measure an image and how its readiness is set."""
    return [
        HOW_TO_HEADING,
        "",
        "```",
        f"{COMMAND}                                   # every image in testprojects/",
        f"{COMMAND} -- testprojects/c/lua:image       # any unikernel_image address(es)",
        f"{COMMAND} -- --quick --output /tmp/b.md some/dir:image",
        f"{COMMAND} -- --help                         # every option",
        "```",
        "",
        "Each image is measured in one of two modes, set per image by the `benchmark` field of its",
        "`unikernel_image` (`./pants help unikernel_image`), which the command line overrides:",
        "",
        "- **Until ready** (a server, the default): booted until a line the app prints matches the",
        f"  `ready` regex (default `{DEFAULT_READY}`, the examples' READY line). If the regex has a",
        "  group 1, it is the app's own `CLOCK_MONOTONIC` in ms: the *virtual ms to ready*. An app",
        "  that prints no clock still gets every other figure; its time cell says it was reached",
        "  with no virtual clock, and gives the wall time. If the image has a port, `GET /` (or",
        f'  `http_path`) must answer 200 once ready; `http_path: "{NO_HTTP}"` for a port that does not',
        "  speak HTTP.",
        '- **Until exit** (a batch app: `until: "exit"`): booted until the app exits; status 0 is',
        "  success. The *virtual ms to exit* is init's `CLOCK_MONOTONIC` when the app exited, read",
        f"  from a line matching `{EXIT_CLOCK_RE}` that init prints before `UNIKERNEL_EXIT=`;",
        "  without that line (init does not print it yet) the cell gives the wall time only.",
        "",
        "An image with `volumes` gets fresh, empty volumes at every boot (in the run's temporary",
        "directory), so its boots are alike: the figures are those of a first start.",
        "",
        "```python",
        'unikernel_image(name="image", ..., benchmark={"ready": r"Running on http://"})',
        'unikernel_image(name="image", ..., benchmark={"until": "exit"})',
        'unikernel_image(name="image", ..., benchmark={"ready": "TCP server running", "http_path": "none"})',
        "```",
        "",
        "Command-line overrides, each `ADDRESS=VALUE` for one image or `VALUE` for every image of the",
        "run (repeatable): `--ready-pattern REGEX`, `--until-exit[=ADDRESS]`, `--http-path PATH|none`,",
        "`--edit FILE` (the source the warm-rebuild measurement changes; default: the app's first",
        "source). The field never enters `package` or `run`, the bundle or any cache key.",
        "",
        "Columns of the results table: **Total size** = kernel + initrd (+ `rootfs.img`) of the bundle;",
        "**Virtual ms to ready (or to exit)** = guest time under `-icount shift=0,sleep=off`, the same",
        "on every machine; **Memory floor** = least `-m` MiB at which the image gets ready (or exits 0);",
        "**Warm rebuild** = `pants package` after a one-line change to the app's source, in a fresh",
        "Pants process and with a warm pantsd; **Kernel / Runtime layer rebuilt** = whether that",
        "rebuild re-ran those processes; **Goals** = what the image should reach. Only images with",
        "goals (the examples, and the real apps the issues set goals for) get ✅/❌; every other",
        "image is measured and shown as is. Goals live in `GOALS` in `tests/benchmarks/settings.py`.",
        "",
    ]


def render_goals() -> List[str]:
    """The table of goals, one row per image that has goals."""
    lines = [
        "| Image | Total size | Virtual ms to ready | Memory floor | Warm rebuild | Kernel rebuilt "
        "| Runtime layer rebuilt | Extra Debian packages |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def le(value: Optional[float], unit: str) -> str:
        return "—" if value is None else f"≤ {_g(value)} {unit}"

    for address in sorted(GOALS):
        g: Goal = GOALS[address]
        extra = "—" if g.extra_debian_packages is None else (
            "none" if g.extra_debian_packages == 0 else f"≤ {g.extra_debian_packages}")
        lines.append(
            f"| `{address}` | {le(g.total_mb, 'MB')} | {le(g.ready_ms, 'ms')} | {le(g.floor_mib, 'MiB')} | "
            f"{le(g.rebuild_s, 's')} | {'allowed' if g.kernel_rebuild_allowed else 'no'} "
            f"| {'allowed' if g.runtime_layer_rebuild_allowed else 'no'} | {extra} |"
        )
    return lines

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
    add("`tests/benchmarks/notes.py`).")
    skips = [f for f in flags if f in SKIPPING_FLAGS]
    if skips:
        add("")
        add(f"**Partial run** (`{' '.join(skips)}`): some measurements were skipped and show as —.")
    add("")
    lines.extend(render_how_to())
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
    add("  must be equal. If the image has a port, it is forwarded and `GET /` must answer. The ready")
    add("  line and the \"until exit\" mode are set per image (see \"Measuring any image\").")
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
    add(f"  `GET /` with HTTP 200 (a batch app: exits with status 0) (TCG, no icount, {FLOOR_BOOT_TIMEOUT_S:g} s timeout per boot). Start at")
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
    lines.extend(render_goals())
    add("")
    add("## Results")
    add("")
    if not reports:
        add("No images were measured.")
        add("")
    else:
        lines.extend(SUMMARY_HEADER)
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


