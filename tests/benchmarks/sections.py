"""Sections of docs/benchmarks.md that their own commands measure (the kernel toolchain
comparison, `.ci/run`'s wall time): rendered anew in place, the rest of the report kept."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

BEFORE = "\n## Reproducibility and remote cache"


def replace(markdown: str, heading: str, lines: List[str]) -> str:
    """`markdown` with the section under `heading` replaced by `lines` (which start with it);
    a new section goes before the reproducibility section, or at the end."""
    section = "\n".join(lines).strip("\n") + "\n"
    if heading in markdown:
        head, rest = markdown.split(heading, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        return head + section + ("\n" + tail if tail else "")
    if BEFORE in markdown:
        head, tail = markdown.split(BEFORE, 1)
        return head.rstrip("\n") + "\n\n" + section + BEFORE + tail
    return markdown.rstrip("\n") + "\n\n" + section


def publish(figures_name: str, figures: Dict[str, Any], replace_section: Callable[[str, Dict[str, Any]], str]) -> None:
    """What a measuring command does with its figures: keep them in the temp dir (figures.py, for
    the report to render again), print them, and render its section of docs/benchmarks.md."""
    import figures as figures_file
    from pants_repo import source_root

    written = figures_file.write_figures(figures_name, figures)
    print(json.dumps(figures, indent=2, sort_keys=True))
    print(f"figures: {written}")
    report = source_root() / "docs" / "benchmarks.md"
    if report.exists():
        report.write_text(replace_section(report.read_text(encoding="utf-8"), figures), encoding="utf-8")
        print(f"updated {report}")


def start_figures(**extra: Any) -> Dict[str, Any]:
    """The figures every measuring command starts with: when, on which machine, at what load."""
    from benchmarks.measure import load_average, pants_version, probe_machine
    from pants_repo import source_root

    machine = probe_machine()
    return {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"nproc": machine.nproc, "cpu": machine.cpu_model, "qemu": machine.qemu, "kvm": machine.kvm,
                    "pants": pants_version(source_root())},
        "load_start": load_average(),
        **extra,
    }


def measure_in_temp(
    prefix: str,
    measure: Callable[..., Dict[str, Any]],
    figures_name: str,
    replace_section: Callable[[str, Dict[str, Any]], str],
    **options: Any,
) -> int:
    """A measuring command's main: `measure(work_dir, **options)` in a temporary directory, then
    publish() its figures."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        figures = measure(Path(tmp), **options)
    publish(figures_name, figures, replace_section)
    return 0
