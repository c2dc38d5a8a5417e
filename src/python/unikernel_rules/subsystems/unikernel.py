"""Options of unikernel_rules: `[unikernel]`, `[debian-archive]` and `[qemu]`."""

from __future__ import annotations

from pants.core.util_rules.search_paths import ExecutableSearchPathsOptionMixin
from pants.option.option_types import StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

from unikernel_rules.debian.apt_sources import default_mirror


class UnikernelSubsystem(Subsystem):
    options_scope = "unikernel"
    help = "Options of the unikernel_rules plugin (images, kernels, boot)."

    default_kernel = StrOption(
        default="//3rdparty/kernel:linux",
        help=softwrap(
            """
            Address of the `unikernel_kernel` target used by `unikernel_image` targets that do
            not set the `kernel` field.
            """
        ),
    )
    kernel_cmdline = StrListOption(
        default=[
            "console=ttyS0",
            "panic=-1",
            "quiet",
            "random.trust_cpu=on",
            "tsc=reliable",
            "no_timer_check",
            # Calibrating the local APIC timer busy-waits ~216 ms of guest time under emulation;
            # the kernel keeps time with the TSC and the PIT instead.
            "noapictimer",
        ],
        help=softwrap(
            """
            Kernel command-line parameters every image gets, before the image's own
            `kernel_args`. `panic=-1` makes a panicking guest stop at once (QEMU runs with
            `-no-reboot`), so a broken image never hangs; `noapictimer`, `tsc=reliable` and
            `no_timer_check` skip timer calibrations that cost ~240 ms of boot time under QEMU.
            """
        ),
        advanced=True,
    )


class DebianArchiveSubsystem(Subsystem):
    options_scope = "debian-archive"
    help = "Where Debian packages (and the kernel source package) are downloaded from."

    mirror = StrOption(
        default="",
        help=softwrap(
            """
            Base URL of a Debian archive (the directory that holds `pool/` and `dists/`).
            Empty (the default) means: the first `deb` URI of this machine's apt sources
            (`/etc/apt/sources.list` and `/etc/apt/sources.list.d/`). Every download is checked
            against the sha256 pinned in the repository, so the mirror only affects where bytes
            come from, never which bytes.
            """
        ),
    )

    def mirror_url(self) -> str | None:
        return self.mirror.rstrip("/") if self.mirror else default_mirror()


class QemuSubsystem(Subsystem):
    options_scope = "qemu"
    help = "The QEMU emulator used by `pants run` (and tests) to boot images."

    class EnvironmentAware(ExecutableSearchPathsOptionMixin, Subsystem.EnvironmentAware):
        executable_search_paths_help = softwrap(
            """
            The PATH value used to find `qemu-system-x86_64` (Debian/Ubuntu package
            `qemu-system-x86`).
            """
        )

    accel = StrOption(
        default="auto",
        help=softwrap(
            """
            `auto`: KVM when the CPU shows hardware virtualisation (vmx/svm) and `/dev/kvm`
            opens, otherwise TCG (software emulation). `kvm` or `tcg` force one.
            """
        ),
    )
