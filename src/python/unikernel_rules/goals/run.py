"""`pants run` of a `unikernel_image`: package it, then boot the bundle with QEMU.

The run is an interactive process: the guest's serial console is the terminal, Ctrl-C stops
the VM, and `pants run` exits with the app's exit status (see qemu/launcher.py).
"""

from __future__ import annotations

from pants.core.goals.run import RunRequest
from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.fs import Digest, MergeDigests
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.goals.package import UnikernelBundle, UnikernelImageFieldSet
from unikernel_rules.qemu.rules import QemuBinary, QemuLauncher
from unikernel_rules.subsystems.unikernel import QemuSubsystem


@rule(desc="Boot a unikernel image", level=LogLevel.DEBUG)
async def run_unikernel_image(
    field_set: UnikernelImageFieldSet,
    python: PythonBuildStandaloneBinary,
    qemu: QemuBinary,
    launcher: QemuLauncher,
    qemu_options: QemuSubsystem,
) -> RunRequest:
    bundle = await Get(UnikernelBundle, UnikernelImageFieldSet, field_set)
    digest = await Get(Digest, MergeDigests([bundle.digest, launcher.digest]))
    return RunRequest(
        digest=digest,
        args=(
            python.path,
            f"{{chroot}}/{launcher.path}",
            "--qemu",
            qemu.path,
            "--accel",
            qemu_options.accel,
            "--bundle",
            f"{{chroot}}/{bundle.directory}",
            # `pants run <image> -- ARGS` appends ARGS here: they become the app's extra args.
            "--",
        ),
    )


def rules():
    return (*collect_rules(), *UnikernelImageFieldSet.rules())
