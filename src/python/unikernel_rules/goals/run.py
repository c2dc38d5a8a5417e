"""`pants run` of a `unikernel_image`: package it, then boot the bundle (or one of its disk
images, through firmware: `[unikernel-run].format`, `.firmware`) with QEMU.

The run is an interactive process: the app's stdout and stderr are `pants run`'s (byte for
byte, through virtio consoles), the guest's log goes to `<state_dir>/logs/`, Ctrl-C stops the
VM (exit 130), and `pants run` exits with the app's exit status (see qemu/launcher/).
Run-time overrides come from `[unikernel-run]`; volumes live in its `state_dir`, never in the
build's outputs.
"""

from __future__ import annotations

import json
import os
from typing import List, Tuple

from pants.base.build_root import BuildRoot
from pants.core.goals.run import RunRequest
from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.addresses import Address, AddressInput
from pants.engine.fs import AddPrefix, Digest, DigestContents, DigestSubset, MergeDigests, PathGlobs
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import SourcesPaths, SourcesPathsRequest, WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from unikernel_rules.containers.checks import ContainerUnsuitableError, check_container_kernel
from unikernel_rules.containers.runner import ContainerRunner
from unikernel_rules.debian.rules import DebianPackagesRequest, DebianTree, debian_binary_argv
from unikernel_rules.formats.names import CONTAINER
from unikernel_rules.goals.package import UnikernelBundle, UnikernelImageFieldSet, kernel_address_input
from unikernel_rules.qemu.rules import QemuBinary, QemuLauncher
from unikernel_rules.subsystems.unikernel import QemuSubsystem, UnikernelSubsystem
from unikernel_rules.target_types import KernelFragmentsField
from unikernel_rules.subsystems.unikernel_run import (
    CONSOLE_CHOICES,
    FIRMWARE_CHOICES,
    FORMAT_CHOICES,
    NETWORK_CHOICES,
    UnikernelRunSubsystem,
)

E2FSPROGS_DIR = "__unikernel/e2fsprogs"
MKE2FS = "sbin/mke2fs"


class UnikernelRunOptionError(Exception):
    pass


def image_state_path(address: Address) -> str:
    """`testprojects/c/hello_http:image` -> `testprojects/c/hello_http/image`."""
    return os.path.join(address.spec_path, address.target_name)


def run_option_args(address: Address, run: UnikernelRunSubsystem, build_root: str) -> List[str]:
    """The launcher options for `[unikernel-run]` (pure; errors name the option and the fix)."""
    args: List[str] = []

    def bad(option: str, value: object, fix: str) -> UnikernelRunOptionError:
        return UnikernelRunOptionError(
            f"`[unikernel-run].{option}` is {value!r}, which `pants run {address}` cannot use: {fix}"
        )

    if run.memory is not None:
        if run.memory < 1:
            raise bad("memory", run.memory, "give the guest's memory in MiB, e.g. `--unikernel-run-memory=256`.")
        args += ["--memory", str(run.memory)]
    if run.cpus is not None:
        if run.cpus < 1:
            raise bad("cpus", run.cpus, "give a number of CPUs, e.g. `--unikernel-run-cpus=2`.")
        args += ["--cpus", str(run.cpus)]
    ports = list(run.ports)
    if ports == ["none"]:
        args.append("--no-ports")
    else:
        for spec in ports:
            parts = spec.split(":")
            ok = 1 <= len(parts) <= 2 and all(p.isdigit() and 0 < int(p) < 65536 for p in parts)
            if not ok:
                raise bad(
                    "ports", ports,
                    "each is `HOST:GUEST` or `PORT` (1-65535), e.g. `--unikernel-run-ports=18080:8080`; "
                    "`--unikernel-run-ports=none` alone forwards none.",
                )
            args += ["--port", spec]
    if run.network is not None:
        if run.network not in NETWORK_CHOICES:
            raise bad("network", run.network, f"use one of {', '.join(NETWORK_CHOICES)}, e.g. `--unikernel-run-network=isolated`.")
        args += ["--network", run.network]
    if run.console not in CONSOLE_CHOICES:
        raise bad("console", run.console, f"use one of {', '.join(CONSOLE_CHOICES)}.")
    args += ["--console", run.console]
    if run.format is not None:
        if run.format not in FORMAT_CHOICES:
            raise bad(
                "format", run.format,
                f"use one of {', '.join(FORMAT_CHOICES)} that the image's `formats` field lists, "
                "e.g. `--unikernel-run-format=qcow2`.",
            )
        args += ["--format", run.format]
    if run.firmware not in FIRMWARE_CHOICES:
        raise bad("firmware", run.firmware, f"use one of {', '.join(FIRMWARE_CHOICES)}, e.g. `--unikernel-run-firmware=bios`.")
    if run.firmware != "auto":
        args += ["--firmware", run.firmware]
    for param in run.kernel_args:
        args.append(f"--kernel-param={param}")
    if run.timeout < 0:
        raise bad("timeout", run.timeout, "give seconds, or 0 for no limit, e.g. `--unikernel-run-timeout=60`.")
    if run.timeout:
        args += ["--timeout", str(run.timeout)]
    if run.replace_args:
        args.append("--replace-args")
    if run.show_log:
        args.append("--show-log")
    state_dir = os.path.join(build_root, run.state_dir)
    path = image_state_path(address)
    args += [
        "--log", os.path.join(state_dir, "logs", path + ".log"),
        "--volumes-dir", os.path.join(state_dir, "volumes", path),
    ]
    if run.wipe_volumes:
        args.append("--wipe-volumes")
    args += ["--run-command", f"pants run {address}"]
    return args


def container_option_args(address: Address, run: UnikernelRunSubsystem, build_root: str) -> List[str]:
    """The container runner's options for `[unikernel-run]` (containers/engine.py); the options
    that only a VM has are errors."""
    vm_only = [
        name
        for name, is_set in (
            ("kernel_args", bool(run.kernel_args)),
            ("firmware", run.firmware != "auto"),
            ("console", run.console != "auto"),
            ("show_log", run.show_log),
        )
        if is_set
    ]
    if vm_only:
        names = ", ".join(f"`[unikernel-run].{n}`" for n in vm_only)
        raise UnikernelRunOptionError(
            f"`pants run {address}` with `--unikernel-run-format=container` runs no VM, so {names} "
            "cannot apply: drop it, or boot the bundle or a disk to use it."
        )
    # The same checks and flags as a VM's run, less the flags (with their values) that only the
    # QEMU launcher takes: its console, its log, the format to boot, the run command of its hints.
    vm_args = run_option_args(address, run, build_root)
    args: List[str] = []
    i = 0
    while i < len(vm_args):
        if vm_args[i] in ("--console", "--log", "--format", "--run-command"):
            i += 2
            continue
        args.append(vm_args[i])
        i += 1
    if run.docker_host:
        args += ["--docker-host", run.docker_host]
    return args


@rule(desc="Boot a unikernel image", level=LogLevel.DEBUG)
async def run_unikernel_image(
    field_set: UnikernelImageFieldSet,
    python: PythonBuildStandaloneBinary,
    qemu_options: QemuSubsystem,
    run_options: UnikernelRunSubsystem,
    unikernel: UnikernelSubsystem,
    build_root: BuildRoot,
) -> RunRequest:
    if run_options.format == CONTAINER:
        # Checked before the build: a wrong option, or an image that needs its own kernel, fails
        # fast (containers/checks.py).
        container_args = container_option_args(field_set.address, run_options, build_root.path)
        kernel_address = await Get(
            Address,
            AddressInput,
            kernel_address_input(field_set.address, field_set.kernel.value, unikernel.default_kernel),
        )
        kernel = await Get(
            WrappedTarget,
            WrappedTargetRequest(kernel_address, description_of_origin=f"the `kernel` of {field_set.address}"),
        )
        fragments: Tuple[str, ...] = ()
        if kernel.target.has_field(KernelFragmentsField):  # else the build says what is wrong
            paths = await Get(SourcesPaths, SourcesPathsRequest(kernel.target[KernelFragmentsField]))
            fragments = paths.files
        try:
            check = check_container_kernel(
                field_set.address, field_set.kernel_args.value or (), kernel_address, fragments
            )
        except ContainerUnsuitableError as e:
            raise UnikernelRunOptionError(str(e)) from None
        if check.note():
            container_args += ["--note", check.note()]
        bundle, runner = await MultiGet(
            Get(UnikernelBundle, UnikernelImageFieldSet, field_set), Get(ContainerRunner)
        )
        return RunRequest(
            digest=await Get(Digest, MergeDigests([bundle.digest, runner.digest])),
            args=(
                python.path,
                f"{{chroot}}/{runner.script}",
                "--bundle",
                f"{{chroot}}/{bundle.directory}",
                *container_args,
                "--",
            ),
            extra_env={"PYTHONPATH": ":".join(f"{{chroot}}/{p}" for p in runner.python_path)},
        )
    option_args = run_option_args(field_set.address, run_options, build_root.path)
    bundle, qemu, launcher = await MultiGet(
        Get(UnikernelBundle, UnikernelImageFieldSet, field_set), Get(QemuBinary), Get(QemuLauncher)
    )
    digests = [bundle.digest, launcher.digest]
    manifest = await Get(DigestContents, DigestSubset(bundle.digest, PathGlobs([bundle.manifest])))
    volumes = json.loads(manifest[0].content).get("volumes") if manifest else None
    if volumes:
        # mke2fs formats new volumes: Debian's e2fsprogs from the lock, run through its own
        # loader (never the host's). Only images with volumes fetch it.
        tree = await Get(
            DebianTree,
            DebianPackagesRequest(("e2fsprogs",), description_of_origin=f"the volumes of {field_set.address}"),
        )
        digests.append(await Get(Digest, AddPrefix(tree.digest, E2FSPROGS_DIR)))
        tree_dir = f"{{chroot}}/{E2FSPROGS_DIR}"
        option_args += [
            "--mke2fs-argv", json.dumps(list(debian_binary_argv(tree_dir, MKE2FS))),
            "--mke2fs-config", f"{tree_dir}/etc/mke2fs.conf",
        ]
    digest = await Get(Digest, MergeDigests(digests))
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
            *option_args,
            # `pants run <image> -- ARGS` appends ARGS here: they become the app's extra args
            # (or replace the image's `args` with --unikernel-run-replace-args).
            "--",
        ),
    )


def rules():
    return (*collect_rules(), *UnikernelImageFieldSet.rules())
