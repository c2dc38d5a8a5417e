#!/usr/bin/env python3
"""Cut a minimal Java runtime with `jlink`, strip it and dump its CDS archive.

Runs inside a Pants sandbox (a cached process keyed by the module list and options, so an
app change that keeps the modules reuses it) and is imported by unit tests.

    java_jre.py SPEC.json

SPEC keys:
  jlink:         argv prefix that starts the JDK's jlink
  module_path:   the JDK's jmods directory
  modules:       the modules to link (sorted)
  options:       further jlink options
  out:           output tree; the runtime goes to `<out>/<home>`
  home:          the runtime's guest path without the leading `/`, e.g. "opt/java"
  loader:        argv prefix that runs an ELF program through the JDK tree's dynamic loader
  strip:         argv prefix of `strip`, or [] for no stripping
  cds:           dump `lib/server/classes.jsa`
  cds_options:   JVM options for the dump (serial collector, fixed heap: reproducible)
  report:        JSON report: files, bytes, elf files, cds

Exit status 3 means a user-facing error, printed as `UNIKERNEL_JAVA_ERROR` lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import List, Sequence

ERROR = "UNIKERNEL_JAVA_ERROR"


class JreError(Exception):
    pass


def run(argv: Sequence[str], what: str) -> None:
    result = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise JreError(f"{what} failed (exit status {result.returncode}):\n" + result.stdout.decode(errors="replace").rstrip())


def files_under(root: str) -> List[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(found)


def is_elf(path: str) -> bool:
    if os.path.islink(path):
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def build(spec: dict) -> dict:
    home = os.path.join(spec["out"], spec["home"])
    os.makedirs(os.path.dirname(home), exist_ok=True)
    run(
        [
            *spec["jlink"],
            "--module-path", spec["module_path"],
            "--add-modules", ",".join(spec["modules"]),
            *spec["options"],
            "--output", home,
        ],
        "jlink",
    )
    elf = [f for f in files_under(home) if is_elf(os.path.join(home, f))]
    if spec["strip"]:
        for rel in elf:
            path = os.path.join(home, rel)
            mode = os.stat(path).st_mode
            os.chmod(path, mode | 0o200)
            run([*spec["strip"], "--strip-unneeded", path], f"strip {rel}")
            os.chmod(path, mode)
    if spec["cds"]:
        # Written to the runtime's default archive (lib/server/classes.jsa): used at boot
        # without any option. Dumped with the serial collector (no archived heap objects,
        # whose layout varies from run to run) and a fixed -Xmx: byte-identical every time.
        run(
            [*spec["loader"], os.path.join(home, "bin", "java"), *spec["cds_options"], "-Xshare:dump", "-Xlog:disable"],
            "Dumping the CDS archive (java -Xshare:dump)",
        )
    files = files_under(home)
    return {
        "files": len(files),
        "bytes": sum(os.lstat(os.path.join(home, f)).st_size for f in files),
        "elf": ["/" + os.path.join(spec["home"], f) for f in elf],
        "cds": spec["cds"],
    }


def main(argv: List[str]) -> int:
    with open(argv[1]) as f:
        spec = json.load(f)
    try:
        report = build(spec)
    except JreError as e:
        for line in str(e).splitlines():
            print(f"{ERROR} {line}")
        return 3
    os.makedirs(os.path.dirname(spec["report"]) or ".", exist_ok=True)
    with open(spec["report"], "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
