"""The command line shared by the scripts that runtimes run inside sandboxes (java_build.py,
java_jre.py): `script.py SPEC.json` -> a JSON report, or user-facing errors.

Shipped into the sandbox beside the script that imports it; imported by unit tests.
"""

from __future__ import annotations

import json
import os
from typing import Callable, List


def files_under(root: str) -> List[str]:
    """Every file under `root` (symlinks to files too), `root`-relative, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(found)


class UserError(Exception):
    """A mistake the user can fix (a compile error, a missing class): printed, exit status 3."""


def script_main(argv: List[str], build: Callable[[dict], dict], error_prefix: str) -> int:
    """Read the spec `argv[1]`, run `build`, write its report to `spec["report"]`. A
    `UserError` is printed as `<error_prefix> <line>` lines and gives exit status 3."""
    with open(argv[1]) as f:
        spec = json.load(f)
    try:
        report = build(spec)
    except UserError as e:
        for line in str(e).splitlines():
            print(f"{error_prefix} {line}")
        return 3
    os.makedirs(os.path.dirname(spec["report"]) or ".", exist_ok=True)
    with open(spec["report"], "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    return 0
