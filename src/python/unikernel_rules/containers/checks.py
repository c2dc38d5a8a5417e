"""Whether an image's app can run as a container at all (`pants run
--unikernel-run-format=container`): pure checks, no rules.

A container has the root tree, command, env, user and ports of the VM, but not its kernel: it
runs on the Docker engine's kernel (the host's). So an image that asks its own kernel for
something cannot be run as a container with the promise of the run mode (the same behaviour as
the VM): kernel parameters in its `kernel_args` field, or a `kernel` whose own Kconfig
`fragments` enable what the app may need. Parameters that only shape the VM kernel's own log or
console change nothing the app sees: those are ignored, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

from pants.engine.addresses import Address
from pants.util.strutil import softwrap

# Parameters of the kernel's own log and console (Documentation/admin-guide/kernel-parameters):
# nothing a process can observe besides the boot log, which a container has no equivalent of.
LOG_ONLY_PARAMS = frozenset(
    ("console", "earlycon", "earlyprintk", "loglevel", "quiet", "debug", "ignore_loglevel", "initcall_debug")
)
LOG_ONLY_PREFIXES = ("printk.",)


class ContainerUnsuitableError(Exception):
    """The image's app needs the image's own kernel: one paragraph, naming the field and the fix."""


def is_log_only(param: str) -> bool:
    name = param.split("=", 1)[0]
    return name in LOG_ONLY_PARAMS or name.startswith(LOG_ONLY_PREFIXES)


@dataclass(frozen=True)
class ContainerKernelCheck:
    """What the container run does with what the image asks of its kernel."""

    ignored_kernel_args: Tuple[str, ...]  # log-only parameters: ignored

    def note(self) -> str:
        """A line for stderr ("" when nothing is ignored)."""
        if not self.ignored_kernel_args:
            return ""
        return (
            f"the image's `kernel_args` {' '.join(self.ignored_kernel_args)} only shape the VM kernel's log: "
            "ignored in the container (it runs on the Docker engine's kernel)"
        )


def check_container_kernel(
    address: Address,
    kernel_args: Sequence[str],
    kernel_address: Address,
    kernel_fragments: Sequence[str],
) -> ContainerKernelCheck:
    """Refuse an image whose app needs its own kernel; `kernel_fragments` are the paths of the
    `fragments` field of its kernel target (not the plugin's builtin fragments, which give the VM
    what every Linux host has: console, virtio devices, sockets)."""
    needs = [p for p in kernel_args if not is_log_only(p)]
    reasons = []
    if needs:
        reasons.append(
            f"its `kernel_args` field sets {', '.join(f'`{p}`' for p in needs)}, kernel parameters its VM "
            "boots with"
        )
    if kernel_fragments:
        reasons.append(
            f"its kernel {kernel_address} enables what its own Kconfig `fragments` "
            f"({', '.join(kernel_fragments)}) ask for, which the app may need"
        )
    if reasons:
        fixes = []
        if needs:
            fixes.append("remove them from `kernel_args` if the app does not need them")
        if kernel_fragments:
            fixes.append(
                "give a second `unikernel_image` of the same app the default kernel (no `kernel` "
                "field) for container runs, if the app does not need them"
            )
        raise ContainerUnsuitableError(
            softwrap(
                f"""
                `pants run --unikernel-run-format=container {address}` cannot run {address} as a
                container: {' and '.join(reasons)}. A container runs on the Docker engine's kernel
                (this machine's), whose command line and configuration no container can set, so
                it would not run the app as its VM does. Boot the VM instead (run without
                `--unikernel-run-format=container`), or {', or '.join(fixes)}.
                """
            )
        )
    return ContainerKernelCheck(ignored_kernel_args=tuple(p for p in kernel_args if is_log_only(p)))
