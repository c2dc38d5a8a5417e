#!/usr/bin/env python3
"""Check that your unikernel images are reproducible: build, rebuild from scratch, compare.

    build-support/verify_reproducible.py [--clean-both] [--keep] [--pants ./pants] TARGETS...

Run it from the build root.

1. `pants package TARGETS` into a temporary dist dir, `dist/unikernel-verify-XXXX/first`
   (Pants wants its dist dir inside the build root): the build you would ship (it may come
   from the local or remote cache);
2. `pants --no-local-cache --no-remote-cache-read package TARGETS` into a second dist dir:
   every process runs again (kernel included, minutes per kernel);
3. compares every bundle's `manifest.json` (size and sha256 of each bundle file) and the
   manifests' own bytes. Prints each mismatch and exits 1; exit 0 when all are identical.

`--clean-both` makes the first build uncached as well (two clean builds). With `diffoscope`
on PATH (e.g. `pip install diffoscope`, or this repo's `./pants package tests/tools:diffoscope`),
each differing file gets diffoscope's report. Only the Python standard library is used, so
any Python >= 3.7 runs this script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

CLEAN_FLAGS = ("--no-local-cache", "--no-remote-cache-read", "--no-remote-cache-write")


def read_manifests(dist: Path) -> Dict[str, dict]:
    """{bundle dir relative to `dist`: parsed manifest.json} for every bundle under `dist`."""
    manifests = {}
    for path in sorted(dist.rglob("manifest.json")):
        manifests[path.parent.relative_to(dist).as_posix()] = json.loads(path.read_text())
    return manifests


def compare_dists(first: Path, second: Path) -> List[str]:
    """Human-readable mismatches between two dist dirs' bundles; empty when reproducible."""
    a, b = read_manifests(first), read_manifests(second)
    problems = []
    if not a and not b:
        return [f"no bundles (manifest.json) found under {first} or {second}"]
    for bundle in sorted(set(a) | set(b)):
        if bundle not in b:
            problems.append(f"{bundle}: only in the first build")
            continue
        if bundle not in a:
            problems.append(f"{bundle}: only in the second build")
            continue
        files_a = a[bundle].get("files", {})
        files_b = b[bundle].get("files", {})
        for name in sorted(set(files_a) | set(files_b)):
            fa, fb = files_a.get(name), files_b.get(name)
            if fa is None or fb is None:
                problems.append(f"{bundle}/{name}: only in the {'second' if fa is None else 'first'} build")
            elif fa.get("sha256") != fb.get("sha256"):
                problems.append(
                    f"{bundle}/{name}: sha256 {fa.get('sha256')} ({fa.get('size')} bytes) "
                    f"!= {fb.get('sha256')} ({fb.get('size')} bytes)"
                )
        if a[bundle] != b[bundle] and not any(p.startswith(f"{bundle}/") for p in problems):
            keys = sorted(k for k in set(a[bundle]) | set(b[bundle]) if a[bundle].get(k) != b[bundle].get(k))
            problems.append(f"{bundle}/manifest.json: differs in {', '.join(keys)}")
    return problems


def differing_files(problems: Sequence[str]) -> List[str]:
    """The bundle-relative file paths named by `compare_dists`'s sha256 mismatches."""
    return [p.split(": ", 1)[0] for p in problems if ": sha256 " in p]


def _package(pants: str, targets: Sequence[str], dist: Path, clean: bool) -> int:
    argv = [pants, *(CLEAN_FLAGS if clean else ()), f"--pants-distdir={dist}", "package", *targets]
    print("+ " + " ".join(argv), file=sys.stderr, flush=True)
    return subprocess.call(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+", help="image targets, e.g. :: or path/to:image")
    parser.add_argument("--pants", default="./pants", help="how to run Pants (default ./pants)")
    parser.add_argument("--clean-both", action="store_true", help="first build uncached too")
    parser.add_argument("--keep", action="store_true", help="keep the two dist dirs")
    args = parser.parse_args(argv)

    # Pants requires its dist dir inside the build root (the current directory).
    Path("dist").mkdir(exist_ok=True)
    work = Path(os.path.relpath(tempfile.mkdtemp(prefix="unikernel-verify-", dir="dist")))
    first, second = work / "first", work / "second"
    try:
        for dist, clean in ((first, args.clean_both), (second, True)):
            code = _package(args.pants, args.targets, dist, clean)
            if code != 0:
                print(f"verify: `pants package` failed (exit {code})", file=sys.stderr)
                return 2
        problems = compare_dists(first, second)
        bundles = read_manifests(first)
        if not problems:
            files = sum(len(m.get("files", {})) for m in bundles.values())
            print(f"verify: reproducible: {len(bundles)} bundles, {files} files bit-identical")
            return 0
        print("verify: NOT reproducible:")
        for p in problems:
            print(f"  {p}")
        diffoscope = shutil.which("diffoscope")
        for rel in differing_files(problems):
            if diffoscope:
                subprocess.call([diffoscope, "--text", "-", str(first / rel), str(second / rel)])
        if not diffoscope:
            print("verify: install diffoscope to see where the files differ", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        if args.keep:
            print(f"verify: the two builds are in {first} and {second}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
