"""Find QEMU on the host (like Pants' docker backend finds `docker`) and ship the launcher."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass

from pants.core.util_rules.system_binaries import BinaryPath, BinaryPathRequest, BinaryPaths, BinaryPathTest
from pants.engine.fs import CreateDigest, Digest, FileContent
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.subsystems.unikernel import QemuSubsystem

QEMU_BINARY = "qemu-system-x86_64"
LAUNCHER_PATH = "__unikernel/launcher.py"


class QemuNotFoundError(Exception):
    pass


class QemuBinary(BinaryPath):
    pass


@dataclass(frozen=True)
class QemuLauncher:
    digest: Digest  # holds LAUNCHER_PATH
    path: str


@rule(desc="Find QEMU", level=LogLevel.DEBUG)
async def find_qemu(qemu_env: QemuSubsystem.EnvironmentAware) -> QemuBinary:
    search_path = qemu_env.executable_search_path
    paths = await Get(
        BinaryPaths,
        BinaryPathRequest(
            binary_name=QEMU_BINARY, search_path=search_path, test=BinaryPathTest(["--version"])
        ),
    )
    first = paths.first_path
    if first is None:
        raise QemuNotFoundError(
            softwrap(
                f"""
                `{QEMU_BINARY}` was not found on the search path {list(search_path)}, and
                `pants run` needs it to boot unikernel images. Install QEMU (Debian/Ubuntu:
                `sudo apt-get install qemu-system-x86`; Fedora: `sudo dnf install
                qemu-system-x86-core`; macOS: `brew install qemu`), or point
                `[qemu].executable_search_paths` in pants.toml at the directory that holds it.
                """
            )
        )
    return QemuBinary(first.path, first.fingerprint)


@rule
async def qemu_launcher() -> QemuLauncher:
    script = importlib.resources.read_binary("unikernel_rules.qemu", "launcher.py")
    digest = await Get(Digest, CreateDigest([FileContent(LAUNCHER_PATH, script, is_executable=True)]))
    return QemuLauncher(digest, LAUNCHER_PATH)


def rules():
    return collect_rules()
