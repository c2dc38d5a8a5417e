"""`[docker-sdk]`: the Docker SDK for Python (https://pypi.org/project/docker/), which the
container run mode (`pants run --unikernel-run-format=container`) talks to a Docker engine with."""

from __future__ import annotations

from pants.backend.python.subsystems.python_tool_base import (
    LockfileRules,
    PythonToolRequirementsBase,
)
from pants.engine.rules import collect_rules
from pants.util.strutil import softwrap


class DockerSdk(PythonToolRequirementsBase):
    """Libraries without an entry point: containers/engine.py imports them (on PYTHONPATH)."""

    options_scope = "docker-sdk"
    name = "docker-sdk"
    help = softwrap(
        """
        The Docker SDK for Python (https://pypi.org/project/docker/) and what it needs
        (requests, urllib3): `pants run --unikernel-run-format=container` loads an image's
        `container.tar` into a Docker engine and runs it with it (docs/containers.md). It runs
        on Pants' own interpreter, so its PEX is built for that Python version. Locked in its
        own resolve: `pants generate-lockfiles --resolve=docker-sdk`.
        """
    )

    default_version = "docker==7.1.0"
    default_requirements = ["docker>=7,<8"]

    register_interpreter_constraints = True
    default_interpreter_constraints = ["CPython==3.9.*"]

    default_lockfile_resource = ("unikernel_rules.subsystems", "docker_sdk.lock")
    lockfile_rules_type = LockfileRules.SIMPLE


def rules():
    return [*collect_rules(), *DockerSdk.rules()]
