from __future__ import annotations

import json

from pants.backend.python.pip_requirement import PipRequirement
from pants.engine.addresses import Address

from unikernel_rules.runtimes.python_checks import lock_problem_message, lock_problems, locked_versions

LOCK = "// header written by Pants\n//   more\n" + json.dumps(
    {
        "locked_resolves": [
            {
                "locked_requirements": [
                    {"project_name": "flask", "version": "3.0.3"},
                    {"project_name": "MarkupSafe", "version": "2.1.5"},
                ]
            }
        ]
    }
)


def _reqs(*lines: str):
    return [("3rdparty/python:r", PipRequirement.parse(line)) for line in lines]


def test_locked_versions_reads_pants_lockfiles() -> None:
    assert locked_versions(LOCK) == {"flask": "3.0.3", "markupsafe": "2.1.5"}


def test_requirements_the_lock_satisfies() -> None:
    versions = locked_versions(LOCK)
    assert lock_problems(_reqs("flask==3.0.3", "Flask>=3", "markupsafe", "MarkupSafe<3"), versions) == []
    # A requirement for another environment is pip's business.
    assert lock_problems(_reqs('pywin32; sys_platform == "win32"'), versions) == []


def test_missing_and_mismatched_requirements() -> None:
    problems = lock_problems(_reqs("requests>=2", "flask==3.1.0", "flask"), locked_versions(LOCK))
    assert [(p.requirement, p.locked_version) for p in problems] == [
        ("requests>=2", None),
        ("flask==3.1.0", "3.0.3"),
    ]
    message = lock_problem_message(
        Address("app", target_name="bin"), "python-apps", "3rdparty/python/python-apps.lock", problems
    )
    assert "app:bin" in message and "`requests>=2` (declared by 3rdparty/python:r), which is not in the lockfile" in message
    assert "the lockfile has version 3.0.3" in message
    assert "./pants generate-lockfiles --resolve=python-apps" in message
    assert "\n" not in message  # one paragraph
