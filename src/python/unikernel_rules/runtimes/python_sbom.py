"""What the SBOM needs of a Python app: its PyPI distributions with the hashes its resolve's
lockfile pins, and its own sources (matched to the venv's files by their bytes)."""

from __future__ import annotations

from typing import Dict, Iterable, Tuple

from pants.core.target_types import ResourceSourceField
from pants.backend.python.target_types import PythonSourceField
from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.fs import Digest
from pants.engine.rules import Get
from pants.engine.target import Target, TransitiveTargets, TransitiveTargetsRequest

from unikernel_rules.runtimes.python_checks import ResolveLock, locked_requirements
from unikernel_rules.runtimes.python_memory import canonical_name
from unikernel_rules.sbom.api import PythonDistribution


def wheel_name_version(filename: str) -> Tuple[str, str]:
    """("flask", "3.0.3") of "flask-3.0.3-py3-none-any.whl" (PEX-INFO's distribution keys)."""
    name, version = filename.split("-")[:2]
    return canonical_name(name), version


def locked_distributions(lockfile_text: str, lockfile: str, installed: Iterable[str]) -> Tuple[PythonDistribution, ...]:
    """The installed wheels (file names) with the lock's artifact of the same file name; a wheel
    built from a locked sdist gets that sdist's hash."""
    by_file: Dict[str, Tuple[str, str, str]] = {}
    by_project: Dict[Tuple[str, str], Tuple[str, str]] = {}
    for req in locked_requirements(lockfile_text):
        for artifact in req.get("artifacts", []):
            file = artifact["url"].rsplit("/", 1)[-1]
            sha256 = artifact["hash"] if artifact.get("algorithm") == "sha256" else ""
            by_file[file.lower()] = (req["project_name"], req["version"], sha256)
            by_project.setdefault((canonical_name(req["project_name"]), req["version"]), (file, sha256))
    found = []
    for wheel in sorted(installed):
        name, version = wheel_name_version(wheel)
        if wheel.lower() in by_file:
            project, version, sha256 = by_file[wheel.lower()]
            found.append(PythonDistribution(canonical_name(project), version, wheel, sha256, lockfile))
        else:
            artifact, sha256 = by_project.get((name, version), ("", ""))
            found.append(PythonDistribution(name, version, artifact, sha256, lockfile if artifact else ""))
    return tuple(found)


def python_distributions(lock: ResolveLock, installed: Iterable[str]) -> Tuple[PythonDistribution, ...]:
    try:
        if lock.text is not None:
            return locked_distributions(lock.text, lock.path, installed)
    except (ValueError, KeyError):  # not a PEX JSON lock
        pass
    return locked_distributions('{"locked_resolves": []}', "", installed)


async def python_sources(target: Target) -> Digest:
    """The app's own Python sources and resources (repository paths)."""
    transitive = await Get(TransitiveTargets, TransitiveTargetsRequest([target.address]))
    fields = [t[PythonSourceField] for t in transitive.closure if t.has_field(PythonSourceField)]
    fields += [t[ResourceSourceField] for t in transitive.closure if t.has_field(ResourceSourceField)]
    sources = await Get(SourceFiles, SourceFilesRequest(fields))
    return sources.snapshot.digest
