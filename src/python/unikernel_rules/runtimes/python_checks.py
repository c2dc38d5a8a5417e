"""Build-time checks of a Python app, before PEX and pip get to fail with their own output.

- Every `python_requirement` the `pex_binary` depends on must be in its resolve's lockfile, at
  a version the requirement admits: otherwise one paragraph naming the requirement, the target
  that declares it, the resolve, its lockfile and the `generate-lockfiles` command.
- The entry point (module, function) must exist: checked by python_install.py in the installed
  venv (statically, nothing of the app runs); its finding becomes `entry_point_error`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.target_types import (
    PythonRequirementResolveField,
    PythonRequirementsField,
    PythonResolveField,
)
from pants.engine.addresses import Address
from pants.engine.fs import DigestContents, PathGlobs
from pants.engine.rules import Get
from pants.engine.target import InvalidFieldException, Target, TransitiveTargets, TransitiveTargetsRequest
from pants.util.strutil import softwrap

from unikernel_rules.runtimes.python_memory import canonical_name


@dataclass(frozen=True)
class LockProblem:
    requirement: str  # as written, e.g. "requests>=2"
    declared_by: str  # the python_requirement target's address
    locked_version: Optional[str]  # None: the project is not in the lock at all


def locked_requirements(lockfile_text: str) -> List[dict]:
    """The `locked_requirements` of a Pants (PEX JSON) lockfile (its `//` header skipped)."""
    body = "\n".join(line for line in lockfile_text.splitlines() if not line.lstrip().startswith("//"))
    data = json.loads(body)
    return [req for resolve in data.get("locked_resolves", []) for req in resolve.get("locked_requirements", [])]


def locked_versions(lockfile_text: str) -> Dict[str, str]:
    """Canonical project name -> version, from a Pants (PEX JSON) lockfile."""
    return {canonical_name(req["project_name"]): req["version"] for req in locked_requirements(lockfile_text)}


def lock_problems(
    requirements: Iterable[Tuple[str, object]], versions: Dict[str, str]
) -> List[LockProblem]:
    """The requirements (declaring address, PipRequirement) that the lock cannot satisfy.

    A requirement with an environment marker is skipped: whether it applies is pip's business."""
    problems = []
    for declared_by, req in requirements:
        pkg_req = req.as_pkg_resources_requirement()  # type: ignore[attr-defined]
        if pkg_req.marker is not None:
            continue
        version = versions.get(canonical_name(pkg_req.project_name))
        if version is None or not pkg_req.specifier.contains(version, prereleases=True):
            problems.append(LockProblem(str(pkg_req), declared_by, version))
    return problems


def lock_problem_message(
    address: Address, resolve: str, lockfile: str, problems: List[LockProblem]
) -> str:
    def one(p: LockProblem) -> str:
        where = f"`{p.requirement}` (declared by {p.declared_by})"
        if p.locked_version is None:
            return f"{where}, which is not in the lockfile"
        return f"{where}, but the lockfile has version {p.locked_version}"

    return softwrap(
        f"""
        The `pex_binary` {address} needs {'; '.join(one(p) for p in problems)}
        ({lockfile}, the lockfile of its resolve `{resolve}`). Regenerate that lockfile so it
        includes the requirement: `./pants generate-lockfiles --resolve={resolve}` (or point the
        requirement's `resolve` field at a resolve whose lockfile has it).
        """
    )


@dataclass(frozen=True)
class ResolveLock:
    """The app's resolve and its lockfile's text: read once, for the lock check and the SBOM."""

    resolve: str = ""
    path: str = ""  # "" without resolves, or when the resolve names no lockfile
    text: Optional[str] = None  # None when there is no lockfile (yet)


async def resolve_lock(target: Target, python_setup: PythonSetup) -> ResolveLock:
    if not python_setup.enable_resolves or not target.has_field(PythonResolveField):
        return ResolveLock()
    resolve = target[PythonResolveField].normalized_value(python_setup)
    lockfile = python_setup.resolves.get(resolve, "")
    if not lockfile:
        return ResolveLock(resolve)
    contents = await Get(DigestContents, PathGlobs([lockfile]))
    return ResolveLock(resolve, lockfile, contents[0].content.decode() if contents else None)


async def check_requirements_locked(
    address: Address, lock: ResolveLock, python_setup: PythonSetup
) -> None:
    """Raise one paragraph when a requirement of the app is missing from its resolve's lock."""
    if lock.text is None:
        return  # no resolves, or no lockfile yet: Pants' own error says how to generate it
    try:
        versions = locked_versions(lock.text)
    except (ValueError, KeyError):
        return  # not a PEX JSON lock: leave it to Pants
    transitive = await Get(TransitiveTargets, TransitiveTargetsRequest([address]))
    requirements = [
        (str(tgt.address), req)
        for tgt in transitive.closure
        if tgt.has_field(PythonRequirementsField)
        and tgt.has_field(PythonRequirementResolveField)
        and tgt[PythonRequirementResolveField].normalized_value(python_setup) == lock.resolve
        for req in tgt[PythonRequirementsField].value
    ]
    problems = lock_problems(requirements, versions)
    if problems:
        raise InvalidFieldException(lock_problem_message(address, lock.resolve, lock.path, problems))


def entry_point_message(address: Address, entry_point: str, problem: str) -> str:
    return softwrap(
        f"""
        The `entry_point` of the `pex_binary` {address} is `{entry_point}`, but {problem}.
        Fix `entry_point` (`module`, `module:function` or `path/to/file.py[:function]`) or add
        the module's `python_sources` (or the `python_requirement` that provides it) to the
        target's `dependencies`.
        """
    )

