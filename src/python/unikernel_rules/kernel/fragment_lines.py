"""Kconfig fragment lines: the builtin fragments a later builtin one supersedes, and explaining a
kernel config error (build_kernel.sh's exit 3) from the fragments themselves."""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

_PROBLEM = re.compile(r"^(?P<label>\S+?):(?P<line>\d+): asked for `(?P<want>[^`]+)`")
_SETTING = re.compile(r"^(?:(CONFIG_[A-Za-z0-9_]+)=.*|# (CONFIG_[A-Za-z0-9_]+) is not set)\s*$")


def _setting(line: str) -> Optional[str]:
    m = _SETTING.match(line.strip())
    return (m.group(1) or m.group(2)) if m else None


def overridden_hints(problems: Sequence[str], fragments: Sequence[Tuple[str, str]]) -> List[str]:
    """For each problem whose option a later fragment sets otherwise (`fragments`: (label, text)
    in the order applied; the last one wins), say which line did, and what needs the option."""
    hints: List[str] = []
    order = [label for label, _ in fragments]
    for problem in problems:
        m = _PROBLEM.match(problem)
        if not m or m.group("label") not in order:
            continue
        want = m.group("want")
        option = _setting(want)
        later = None
        for label, text in fragments[order.index(m.group("label")) + 1 :]:
            for n, line in enumerate(text.splitlines(), 1):
                if _setting(line) == option and line.strip() != want:
                    later = (label, n, line.strip())
        if later is None:
            continue
        label, n, line = later
        need = m.group("label")
        why = (
            f"the image's `platform` needs it ({need[len('builtin:'):]} holds that platform's drivers): "
            "remove the line, or build the image for another `platform`"
            if need.startswith("builtin:platform-")
            else "remove one of the two"
        )
        hints.append(f"{need}:{m.group('line')} asks for `{want}`, but {label}:{n} sets `{line}` (a later fragment wins); {why}.")
    return hints


def drop_superseded(fragments: Sequence[Tuple[str, bytes]]) -> List[Tuple[str, bytes]]:
    """The builtin fragments (name, text) in order, without the lines that a later one sets to
    another value: a platform's fragment turns on what `net` turns off for the qemu platform
    (`# CONFIG_ETHERNET is not set`), and build_kernel.sh checks every line that is left. A line
    no later fragment contradicts is kept byte for byte (the other kernels' inputs unchanged)."""
    settings = [
        {opt: line.strip() for line in text.decode().splitlines() if (opt := _setting(line))}
        for _, text in fragments
    ]
    out: List[Tuple[str, bytes]] = []
    for i, (name, text) in enumerate(fragments):
        later = {}
        for s in settings[i + 1 :]:
            later.update(s)
        lines = text.decode().splitlines(keepends=True)
        kept = [
            line for line in lines
            if (opt := _setting(line)) is None or opt not in later or later[opt] == line.strip()
        ]
        out.append((name, "".join(kept).encode() if len(kept) != len(lines) else text))
    return out
