#!/usr/bin/env python3
"""Print the per-test duration summary at the end of `.ci/run`.

    ci_summary.py PANTS_TEST_LOG [REPORTS_DIR [WALL_SECONDS]] [--record=FILE --cache=fresh|warm --status=N]

PANTS_TEST_LOG: the output of `./pants test ::` (its closing lines `✓ ADDRESS succeeded in
12.34s (cached locally).` give each test target's time and whether it ran or came from the
cache). REPORTS_DIR (default `dist/test/reports`): the JUnit XML files Pants writes with
`[test] report = true`, which give each test function's time. Prints the targets slowest
first (ran and cached apart, so a warm run's real cost is visible), the slowest test functions,
and the totals (WALL_SECONDS: the whole command's, measured by `.ci/run`). Standard library only; never fails the build (exit 0 whatever it finds).

`--record=FILE` also keeps the run's wall time in the JSON FILE, under "fresh" (Pants' cache was
empty when `.ci/run` started) or "warm" (`--cache`), with the exit status and the date: the
benchmark report (tests/benchmarks) shows the last of each in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

SUMMARY = re.compile(
    r"^\S+ (?P<address>\S+) (?P<status>succeeded|failed) in (?P<secs>[0-9.]+)s(?: \((?P<source>[^)]*)\))?\.$"
)
SLOWEST_FUNCTIONS = 15


@dataclass(frozen=True)
class TargetTime:
    address: str
    status: str
    seconds: float
    source: str  # "ran", "cached locally", "memoized", ...


def parse_log(lines: Sequence[str]) -> List[TargetTime]:
    """The test targets of Pants' closing summary (the last occurrence of each address wins)."""
    found = {}
    for line in lines:
        m = SUMMARY.match(line.strip())
        if m:
            found[m["address"]] = TargetTime(m["address"], m["status"], float(m["secs"]), m["source"] or "ran")
    return list(found.values())


def parse_reports(directory: Path) -> List[Tuple[float, str]]:
    """(seconds, "file::test") of every test case in the JUnit XML files under `directory`."""
    cases: List[Tuple[float, str]] = []
    for path in sorted(directory.rglob("*.xml")) if directory.is_dir() else []:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue
        for case in root.iter("testcase"):
            try:
                secs = float(case.get("time") or 0)
            except ValueError:
                continue
            classname = case.get("classname") or path.stem
            cases.append((secs, f"{classname}::{case.get('name')}"))
    return cases


def _minutes(secs: float) -> str:
    return f"{secs:8.1f}s ({secs / 60:5.1f} min)"


def render(targets: Sequence[TargetTime], cases: Sequence[Tuple[float, str]], wall: Optional[float]) -> str:
    out = ["", "ci: per-test durations (slowest first)"]
    ran = sorted((t for t in targets if t.source == "ran"), key=lambda t: -t.seconds)
    cached = sorted((t for t in targets if t.source != "ran"), key=lambda t: -t.seconds)
    for title, group in (("ran in this run", ran), ("from the cache (time of the run that was cached)", cached)):
        if not group:
            continue
        out.append(f"  test targets {title}:")
        for t in group:
            mark = "" if t.status == "succeeded" else "  FAILED"
            out.append(f"    {_minutes(t.seconds)}  {t.address}{mark}")
        out.append(f"    {_minutes(sum(t.seconds for t in group))}  total of {len(group)} targets")
    if cases:
        out.append(f"  slowest test functions (JUnit reports, {len(cases)} in all):")
        for secs, name in sorted(cases, key=lambda c: -c[0])[:SLOWEST_FUNCTIONS]:
            out.append(f"    {_minutes(secs)}  {name}")
    if not targets and not cases:
        out.append("  (no test summary found in the log)")
    if wall is not None:
        out.append(f"  wall time of the test command (set-up, packaging the examples, `./pants test ::`): {_minutes(wall)}")
    return "\n".join(out)


def record(path: Path, cache: str, wall: float, status: str, targets: Sequence[TargetTime]) -> None:
    """Keep this run's figures in `path` (JSON), beside the last run of the other cache state."""
    try:
        figures = json.loads(path.read_text())
    except (OSError, ValueError):
        figures = {}
    figures[cache] = {
        "wall_s": round(wall, 1),
        "status": status,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "targets_ran": sum(1 for t in targets if t.source == "ran"),
        "slowest": [[t.address, t.seconds] for t in sorted(targets, key=lambda t: -t.seconds) if t.source == "ran"][:3],
    }
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))


def main(argv: Sequence[str]) -> int:
    options = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    argv = [a for a in argv if not a.startswith("--")]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 0
    log = Path(argv[0])
    reports = Path(argv[1]) if len(argv) > 1 else Path("dist/test/reports")
    wall = float(argv[2]) if len(argv) > 2 else None
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    targets = parse_log(lines)
    print(render(targets, parse_reports(reports), wall))
    if options.get("record") and wall is not None:
        try:
            record(Path(options["record"]), options.get("cache", "warm"), wall, options.get("status", "?"), targets)
        except OSError as e:
            print(f"ci: cannot record the figures in {options['record']}: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
