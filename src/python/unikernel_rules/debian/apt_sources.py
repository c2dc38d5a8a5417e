"""Find the machine's Debian archive URL from its apt sources (one-line and deb822 formats).

The repository never names a mirror: `[debian-archive].mirror` is empty by default and the
first `deb` URI configured for apt on the machine is used instead.
"""

from __future__ import annotations

import glob
import os
from typing import Iterable, Iterator, Optional

DEFAULT_APT_DIR = "/etc/apt"


def _one_line_uris(text: str) -> Iterator[str]:
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # options such as [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if words:
            yield words[0]


def _deb822_uris(text: str) -> Iterator[str]:
    for stanza in text.split("\n\n"):
        fields = {}
        key = None
        for raw in stanza.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key:
                fields[key] += " " + raw.strip()
                continue
            if ":" in raw:
                key, value = raw.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        for uri in fields.get("uris", "").split():
            yield uri


def deb_uris(apt_dir: str = DEFAULT_APT_DIR) -> Iterator[str]:
    """All `deb` URIs in apt's sources, in apt's reading order."""
    main = os.path.join(apt_dir, "sources.list")
    if os.path.isfile(main):
        with open(main, encoding="utf-8", errors="replace") as f:
            yield from _one_line_uris(f.read())
    for path in sorted(glob.glob(os.path.join(apt_dir, "sources.list.d", "*"))):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".list"):
            yield from _one_line_uris(text)
        elif path.endswith(".sources"):
            yield from _deb822_uris(text)


def first_archive_uri(uris: Iterable[str]) -> Optional[str]:
    """The first URI that looks like a main Debian archive (not a security or updates one)."""
    candidates = [u.rstrip("/") for u in uris if u.startswith(("http://", "https://", "file:"))]
    for uri in candidates:
        if not uri.endswith(("-security", "/debian-security")):
            return uri
    return candidates[0] if candidates else None


def default_mirror(apt_dir: str = DEFAULT_APT_DIR) -> Optional[str]:
    return first_archive_uri(deb_uris(apt_dir))
