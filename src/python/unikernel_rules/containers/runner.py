"""The container run mode's files for `pants run`: containers/engine.py and the Docker SDK's
installed wheels (`[docker-sdk]`, no venv), under `__unikernel/` in the run's sandbox."""

from __future__ import annotations

import importlib.resources
import posixpath
from dataclasses import dataclass
from typing import Tuple

from pants.engine.fs import AddPrefix, CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.subsystems.docker_sdk import DockerSdk
from unikernel_rules.util_rules.tool_wheels import ToolWheels, ToolWheelsRequest

ENGINE_SCRIPT = "__unikernel/containers/engine.py"
SDK_DIR = "__unikernel/docker_sdk"


@dataclass(frozen=True)
class ContainerRunner:
    digest: Digest  # ENGINE_SCRIPT and the SDK's wheels under SDK_DIR
    script: str
    python_path: Tuple[str, ...]  # sandbox-relative PYTHONPATH entries


@rule(desc="Prepare the container run mode", level=LogLevel.DEBUG)
async def container_runner(sdk: DockerSdk) -> ContainerRunner:
    wheels = await Get(ToolWheels, ToolWheelsRequest(sdk.to_pex_request(), SDK_DIR))
    script = importlib.resources.read_binary("unikernel_rules.containers", "engine.py")
    files = await Get(Digest, CreateDigest([FileContent(ENGINE_SCRIPT, script)]))
    placed = await Get(Digest, AddPrefix(wheels.digest, SDK_DIR))
    digest = await Get(Digest, MergeDigests([files, placed]))
    return ContainerRunner(digest, ENGINE_SCRIPT, tuple(posixpath.join(SDK_DIR, w) for w in wheels.wheels))


def rules():
    return collect_rules()
