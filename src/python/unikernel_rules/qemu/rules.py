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
# The launcher package (qemu/launcher/, standard library only) is shipped as a directory that
# the sandbox's Python runs as a script: `python3 __unikernel/launcher --bundle ...`.
LAUNCHER_PATH = "__unikernel/launcher"
LAUNCHER_PACKAGE = "unikernel_rules.qemu.launcher"
LAUNCHER_MODULES = (
    "__init__.py",
    "__main__.py",
    "argv.py",
    "boot.py",
    "cli.py",
    "cmdline.py",
    "console.py",
    "devices.py",
    "disk.py",
    "host.py",
    "options.py",
    "volumes.py",
)


class QemuNotFoundError(Exception):
    pass


class QemuBinary(BinaryPath):
    pass


@dataclass(frozen=True)
class QemuLauncher:
    digest: Digest  # holds LAUNCHER_PATH/*.py
    path: str  # the directory to run with Python


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
    files = [
        FileContent(f"{LAUNCHER_PATH}/{name}", importlib.resources.read_binary(LAUNCHER_PACKAGE, name))
        for name in LAUNCHER_MODULES
    ]
    digest = await Get(Digest, CreateDigest(files))
    return QemuLauncher(digest, LAUNCHER_PATH)


def rules():
    return collect_rules()
