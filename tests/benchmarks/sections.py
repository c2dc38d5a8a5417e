"""Sections of docs/benchmarks.md that their own commands measure (the kernel toolchain
comparison, `.ci/run`'s wall time): rendered anew in place, the rest of the report kept."""

from __future__ import annotations

from typing import List

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
