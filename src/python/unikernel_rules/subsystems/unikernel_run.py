"""`[unikernel-run]`: run-time overrides for `pants run` of a `unikernel_image`.

They change how the VM is booted, never the image: nothing here enters a build's cache key.
"""

from __future__ import annotations

from pants.option.option_types import BoolOption, IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

from unikernel_rules.formats.names import FORMAT_NAMES

NETWORK_CHOICES = ("isolated", "outbound", "host", "none")
CONSOLE_CHOICES = ("auto", "virtio", "serial")
FORMAT_CHOICES = FORMAT_NAMES
FIRMWARE_CHOICES = ("auto", "bios", "uefi")


class UnikernelRunSubsystem(Subsystem):
    options_scope = "unikernel-run"
    help = softwrap(
        """
        How `pants run` boots a `unikernel_image` (memory, ports, kernel arguments, a timeout,
        the app's arguments, the guest's log, volumes, which built format and firmware), without
        rebuilding it. For example
        `pants run --unikernel-run-memory=256 --unikernel-run-ports=18080:8080 path:image`.
        See docs/targets.md.
        """
    )

    memory = IntOption(
        default=None,
        help="Guest memory in MiB for this run, instead of the image's `memory` field.",
    )
    cpus = IntOption(default=None, help="Guest CPUs for this run, instead of the image's `cpus` field.")
    ports = StrListOption(
        default=[],
        help=softwrap(
            """
            Port forwards for this run, instead of the image's `ports`: `HOST:GUEST` (from
            127.0.0.1:HOST on this machine to the guest's GUEST port) or `PORT` (the same on
            both sides); repeat the flag for several. `none` forwards no port. Empty (the
            default): the image's `ports`.
            """
        ),
    )
    network = StrOption(
        default=None,
        help=softwrap(
            f"""
            The guest's network for this run, instead of the image's `network` field: one of
            {', '.join(NETWORK_CHOICES)}. `host` lets the guest reach services on this machine's
            127.0.0.1 (as 10.0.2.2): use it only for apps you trust.
            """
        ),
    )
    kernel_args = StrListOption(
        default=[],
        help=softwrap(
            """
            Extra kernel command-line parameters for this run, after the image's `kernel_args`
            (e.g. `loglevel=7` to see every kernel message with `--unikernel-run-show-log`).
            """
        ),
    )
    timeout = IntOption(
        default=0,
        help=softwrap(
            """
            Seconds after which the VM is stopped if the app has not exited (0: no limit). A
            stopped run prints the end of the guest's log and exits with status 124. Use it for
            batch apps and scripts, so a guest that hangs or stalls never runs forever.
            """
        ),
    )
    replace_args = BoolOption(
        default=False,
        help=softwrap(
            """
            Make the arguments after `--` (`pants run path:image -- ARGS`) replace the image's
            `args` instead of following them. The image's `command` stays.
            """
        ),
    )
    show_log = BoolOption(
        default=False,
        help=softwrap(
            """
            Copy the guest's log (the kernel's and init's messages, on the serial console) to
            stderr as it comes. Without it the log goes only to `<state_dir>/logs/`, and its end
            is shown when the guest fails. The app's own stdout and stderr are never mixed with it.
            """
        ),
    )
    state_dir = StrOption(
        default=".unikernel",
        help=softwrap(
            """
            Directory (relative to the build root, or absolute) for what runs keep: the images'
            volumes in `<state_dir>/volumes/<image path>/<serial>.img` and the last run's log in
            `<state_dir>/logs/<image path>.log`. Keep it out of Pants' view (`pants_ignore`) and
            out of version control.
            """
        ),
    )
    wipe_volumes = BoolOption(
        default=False,
        help="Delete the image's volumes before booting: the app starts with new, empty ones.",
    )
    format = StrOption(
        default=None,
        help=softwrap(
            f"""
            Which of the image's built `formats` to boot: one of {', '.join(FORMAT_CHOICES)}.
            `container` runs the image's `container.tar` in a local Docker engine instead of a
            VM (see `--unikernel-run-docker-host`, docs/containers.md): the same files,
            command, args, env, user, ports, volumes (as directories), exit status, timeout and
            Ctrl-C, without kernel or boot.
            Unset: the bundle (its kernel and initrd, booted directly) if the image built one,
            else its first disk format. A disk (`vhd` is QEMU's `vpc`; `gce` is extracted from
            its tarball first) boots through firmware like a real machine (see
            `--unikernel-run-firmware`), with the same console, ports, volumes, exit status and
            timeout; its kernel command line is inside it, so app arguments after `--`,
            `--unikernel-run-kernel-args`, `--unikernel-run-replace-args` and another
            `--unikernel-run-network` are errors for a disk boot: boot the bundle for those.
            """
        ),
    )
    firmware = StrOption(
        default="auto",
        help=softwrap(
            f"""
            The firmware of a disk boot ({', '.join(FIRMWARE_CHOICES)}): `bios` = QEMU's SeaBIOS
            (the disk's syslinux), `uefi` = OVMF (the disk's EFI/BOOT/BOOTX64.EFI; needs the
            host's `ovmf` package), `auto` = `bios` when the disk supports it, because it is
            faster: without KVM (TCG), SeaBIOS starts the disk's boot code 0.1-0.4 s after QEMU
            starts, OVMF after 3.5-5 s. Ignored (with a note) for a bundle boot, which starts
            its kernel directly.
            """
        ),
    )
    docker_host = StrOption(
        default=None,
        help=softwrap(
            """
            The Docker engine that `--unikernel-run-format=container` runs the image's
            `container.tar` in (e.g. `unix:///run/user/1000/docker.sock`). Unset: the
            DOCKER_HOST environment variable, else `unix:///var/run/docker.sock`.
            """
        ),
    )
    console = StrOption(
        default="auto",
        advanced=True,
        help=softwrap(
            f"""
            How the app's stdio reaches `pants run` ({', '.join(CONSOLE_CHOICES)}): `virtio` =
            two virtio consoles, byte for byte, the kernel's and init's log apart; `serial` =
            everything on the serial console (how images built before the virtio consoles
            worked); `auto` = `virtio` for images whose init supports it.
            """
        ),
    )


def rules():
    return [*UnikernelRunSubsystem.rules()]
