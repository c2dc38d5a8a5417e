"""The report's "CI wall time" section: `.ci/run`'s last fresh and warm runs on this machine,
recorded by build-support/ci_summary.py in `$TMPDIR/unikernel-rules-ci.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import figures
from benchmarks import sections

FIGURES = "unikernel-rules-ci.json"
HEADING = "## CI wall time (`.ci/run`)"
GOALS = {"fresh": 60, "warm": 25}  # minutes


# Hand-written, dated: what the recorded runs showed about where the time goes. Edit freely.
NOTES = [
    "Fresh, measured 2026-12-02 on a new machine (no `~/.cache`, no QEMU: `setup-host.sh` installed "
    "it): 39.0 min in all. Of that, ~1 min is the host packages and Pants' bootstrap, ~10 min the "
    "packaging step of the test command (`./pants package testprojects::`: the two kernel variants "
    "built once, at the same time, ~6 min, then every example image), and 28 min `./pants test ::`, "
    "whose 65 test targets then find every shared build in the cache (sum of their times 52 min "
    "on 2 cores; the reproducibility test 19 min, with its one uncached kernel build).",
    "Warm with every integration test re-run (a change under `src/`, which all of them depend "
    "on): 27.2 min (2026-12-02), over the 25 min goal. The 16 integration tests add up to 41 min "
    "on 2 cores, so ~21 min is the floor; the reproducibility test (~15 min: build B compiles a "
    "kernel with no cache, as it must) is the critical path, and Pants 2.17 starts test processes "
    "in an order no option sets: in this run it started 12.5 min in, and ran alone at the end. "
    "Earlier warm runs: 26.3 and 26.5 min (2026-12-01), 16.2 min when only 4 targets re-ran. "
    "A change to one test or one example re-runs only the tests that depend on it.",
    "Fresh again on 2026-12-03, on a new machine (Intel Xeon, 2 CPUs; no `~/.cache`, no QEMU) at "
    "86c066e, with the five platform kernels: 46.5 min, green (goal 60). ~1 min host packages and "
    "bootstrap, 23 min packaging (seven kernel variants, two at a time, 4.5-6 min each: 21 min), "
    "22 min `./pants test ::` (78 targets, sum 44.5 min; the reproducibility test 17.8 min). "
    "Other work ran beside it for ~10 min (a lockfile and one integration test).",
    "Since 2026-12-03 the suite also runs tests/containers_integration_test.py (~4 min: a Docker "
    "engine of its own, the examples and flaskr in containers), which adds to the sum, not to the "
    "critical path (the reproducibility test).",
    "On the AMD EPYC machine of 2026-12-03 (2 CPUs; the warm row above) builds are ~2x slower: one "
    "kernel variant, built alone (a fragment of its own, so a cache miss), took 5.2 min (Intel: "
    "2.5 min), and warm runs take 40-48 min with every integration test re-run (the reproducibility "
    "test 30-34 min: build B compiles a kernel uncached, 15 min). A fresh `.ci/run` was not measured "
    "there; from those figures, seven kernel variants two at a time (~35 min) plus the warm run "
    "put it at ~80 min: over the 60 min goal and close to CI's 90 min limit.",
]


def read_figures(path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    return figures.read_figures(FIGURES, path)


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
    lines += ["", "What limits it:", ""] + [f"- {n}" for n in NOTES]
    return lines


def replace_section(markdown: str, figures: Optional[Dict[str, Any]]) -> str:
    return sections.replace(markdown, HEADING, render(figures))
