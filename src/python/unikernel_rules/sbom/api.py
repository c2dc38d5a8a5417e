"""What a runtime (and the guest's /etc files) tell the SBOM about where their files came from.

Files are matched to origins by the SBOM's process (sbom/spdx.py), in this order: a jar's or a
built file's exact guest path, a PyPI distribution's RECORD, a Debian package's file at the same
path (same sha256: copied; another: changed at build, e.g. stripped), a `.pyc` compiled from such
a file, a directory generated from a Debian package (`derived`), an app source with the same
bytes; anything else is reported as made by the build itself (generated /etc files, venv glue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from pants.engine.fs import EMPTY_DIGEST, Digest
from pants.util.frozendict import FrozenDict

from unikernel_rules.debian.lock import LockedDebianPackage


@dataclass(frozen=True)
class PythonDistribution:
    """A PyPI distribution installed in the image, as its resolve's lockfile pins it."""

    name: str
    version: str
    artifact: str  # the locked file (wheel or sdist) it was installed from
    sha256: str  # that file's hash in the lockfile ("" when the lock does not have it)
    lockfile: str


@dataclass(frozen=True)
class JarOrigin:
    """A jar of the image at `path` (guest path, without the leading `/`)."""

    path: str
    coordinate: str  # Maven `group:artifact:version`, or "" for a jar file of the repository
    sha256: str
    label: str  # its `java_jar` target (and coordinate), for the document's comments


@dataclass(frozen=True)
class Provenance:
    debian: Tuple[LockedDebianPackage, ...] = ()  # packages the files may come from
    # Guest paths or directory prefixes ("opt/java/") -> the Debian package they were built from
    # (a jlink runtime from the JDK's modules, a CA bundle from ca-certificates).
    derived: FrozenDict[str, str] = FrozenDict()
    python: Tuple[PythonDistribution, ...] = ()
    jars: Tuple[JarOrigin, ...] = ()
    # The app's own sources (repository paths) and the guest paths built from them (a C
    # program's binary, a Java app's app.jar); a file with the bytes of a source is that source.
    sources: Digest = EMPTY_DIGEST
    built_from_sources: Tuple[str, ...] = ()

    def merge(self, other: "Provenance") -> "Provenance":
        debian = {p.name: p for p in (*self.debian, *other.debian)}
        return Provenance(
            debian=tuple(debian[n] for n in sorted(debian)),
            derived=FrozenDict({**self.derived, **other.derived}),
            python=(*self.python, *other.python),
            jars=(*self.jars, *other.jars),
            sources=self.sources if other.sources == EMPTY_DIGEST else other.sources,
            built_from_sources=(*self.built_from_sources, *other.built_from_sources),
        )
