"""The report's "CI wall time" section: `.ci/run`'s last fresh and warm runs on this machine,
recorded by build-support/ci_summary.py in `$TMPDIR/unikernel-rules-ci.json`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from benchmarks import sections

FIGURES = "unikernel-rules-ci.json"
HEADING = "## CI wall time (`.ci/run`)"
GOALS = {"fresh": 60, "warm": 25}  # minutes


def read_figures(path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    try:
        return json.loads((path or Path(tempfile.gettempdir()) / FIGURES).read_text())
    except (OSError, ValueError):
        return None


def render(figures: Optional[Dict[str, Any]]) -> List[str]:
    lines = [HEADING, "", "Recorded by `.ci/run` itself (build-support/ci_summary.py) at the end of each run on this machine:",
             "fresh = Pants' cache (`~/.cache/pants`) did not exist when it started (a new machine), warm = it did",
             "(the kernels and tools built; what changed since the last run is rebuilt and every test whose",
             "inputs changed runs).", "", "| Run | Wall time | Goal | Finished | Exit | Test targets run | Slowest |",
             "|---|---|---|---|---|---|---|"]
    for state in ("fresh", "warm"):
        f = (figures or {}).get(state)
        if not f:
            lines.append(f"| {state} | not measured on this machine | ≤ {GOALS[state]} min | | | | |")
            continue
        minutes = f["wall_s"] / 60
        ok = "✅" if minutes <= GOALS[state] and str(f.get("status")) == "0" else "❌"
        slow = ", ".join(f"{a.split(':')[0].rsplit('/', 1)[-1]} {s / 60:.1f} min" for a, s in f.get("slowest", []))
        lines.append(f"| {state} | {minutes:.1f} min {ok} | ≤ {GOALS[state]} min | {f['finished']} | {f['status']} | "
                     f"{f['targets_ran']} | {slow} |")
    return lines


def replace_section(markdown: str, figures: Optional[Dict[str, Any]]) -> str:
    return sections.replace(markdown, HEADING, render(figures))
