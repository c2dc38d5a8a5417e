"""How much RAM a Python image needs: the estimate (`memory_needed_mib`) and the typical need.

The image rules add the kernel's and the disk root's own base (goals/package.py
DISK_ROOT_MEMORY_BASE_MIB, measured) to `UnikernelApp.memory_mib`; this module computes that
runtime part from what the build knows about the app, from figures measured in the guest
(docs/python.md, "Memory"):

- the interpreter itself: the hello_http example (stdlib `http.server` + sqlite3) boots at 29
  MiB with a disk root, 9 above the base: `INTERPRETER_MIB`;
- the app's code objects: the heap of imported modules grows with their compiled size. Measured
  on CPython 3.11 (anonymous memory after the imports against the `.pyc` bytes of the venv):
  Flask + Werkzeug + Jinja2 + click, 2.7 MB of `.pyc`, take 11.7 MiB of heap: ~4.3x, so
  `PYC_HEAP_FACTOR`;
- big allocations a library makes by default on a typical request, by distribution:
  Werkzeug's `generate_password_hash` defaults to scrypt with n=2**15, r=8, which allocates
  128 * n * r bytes = 32 MiB in OpenSSL for every hash: an app that registers or logs in a user
  needs it. Measured on testprojects/python/flaskr (2026-12-01, TCG, disk root): serving its
  pages works from 40-44 MiB (this estimate without the allocation: 43), registering and logging
  in works in every run from 78 (in some runs from 70): 35 MiB more than the pages, so 36.
"""

from __future__ import annotations

import math
import re
from typing import Iterable

INTERPRETER_MIB = 10
PYC_HEAP_FACTOR = 4.5
MIB = 1024 * 1024

# Distribution (canonical name) -> MiB its default code path allocates at once.
KNOWN_ALLOCATIONS_MIB = {
    "werkzeug": 36,  # scrypt n=2**15 r=8 p=1 (werkzeug.security.generate_password_hash)
}

# The typical need (the image's default `memory` when it is "auto"): the estimate plus room for
# the page cache of the hot files and request buffers, rounded up to a multiple of 32 MiB.
TYPICAL_HEADROOM_MIB = 32
TYPICAL_MINIMUM_MIB = 64


def canonical_name(project: str) -> str:
    """A project name in PEP 503's canonical form: `Zope.Interface` -> `zope-interface`."""
    return re.sub(r"[-_.]+", "-", project).lower()


def distribution_name(wheel_or_sdist: str) -> str:
    """`Werkzeug-3.0.6-py3-none-any.whl` -> `werkzeug`."""
    return canonical_name(wheel_or_sdist.split("-", 1)[0])


def runtime_memory_mib(pyc_bytes: int, distributions: Iterable[str]) -> int:
    """RAM (MiB) the interpreter and the app need on top of the kernel and the disk root."""
    names = {distribution_name(d) for d in distributions}
    heap = math.ceil(pyc_bytes * PYC_HEAP_FACTOR / MIB)
    return INTERPRETER_MIB + heap + sum(KNOWN_ALLOCATIONS_MIB.get(n, 0) for n in names)


def typical_memory_mib(needed_mib: int) -> int:
    """The memory a typical workload runs well in, given the whole estimate (kernel included)."""
    return max(TYPICAL_MINIMUM_MIB, 32 * math.ceil((needed_mib + TYPICAL_HEADROOM_MIB) / 32))
