"""What a `unikernel_image`'s fields mean, checked once, and the `/.uk/init.conf` they give init.

Every field value is checked here, when the image is built (see target_types/guest.py for why
not when the BUILD file is read), before any expensive work, so a mistake is reported at once
with the target, the field and the fix.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

from pants.engine.addresses import Address
from pants.engine.fs import DigestEntries, Directory, FileEntry
from pants.engine.target import InvalidFieldException
from pants.util.strutil import softwrap

from unikernel_rules.rootfs.symlinks import follow
from unikernel_rules.target_types.guest import (
    GuestUser,
    GuestVolume,
    UnikernelCaCertificatesField,
    UnikernelHostnameField,
    UnikernelNetworkField,
    UnikernelTimezoneField,
    UnikernelUserField,
    UnikernelVolumesField,
    UnikernelWritablePathsField,
    overlaps,
)
from unikernel_rules.target_types.image import (
    UnikernelCpusField,
    UnikernelMemoryField,
    UnikernelPortsField,
)

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# QEMU user networking: the guest is 10.0.2.15 behind a gateway at 10.0.2.2 (which QEMU maps
# to the host's 127.0.0.1), DNS at 10.0.2.3.
GUEST_NET = "net static 10.0.2.15 255.255.255.0 10.0.2.2"
HOST_LOOPBACK_ALIAS = "10.0.2.2"
# The second NIC, on which `pants run` forwards the image's ports (restricted: it reaches
# nothing), see qemu/launcher/argv.py `netdev_args`.
PORTS_NET = "net_ports static 10.0.3.15 255.255.255.0"


@dataclass(frozen=True)
class ImageSettings:
    memory_mib: Optional[int]  # None: `auto`
    cpus: int
    ports: Tuple[Tuple[int, int], ...]
    hostname: str
    user: GuestUser
    network: str
    volumes: Tuple[GuestVolume, ...]
    writable_paths: Tuple[str, ...]
    ca_certificates: Optional[bool]  # None: the runtime's choice
    timezone: Optional[str]
    # The guest's address comes from DHCP (the kernel's `ip=dhcp`: a `platform` other than
    # `qemu`), not QEMU's user network's fixed one.
    dhcp: bool = False


def image_settings(
    address: Address,
    *,
    memory: UnikernelMemoryField,
    cpus: UnikernelCpusField,
    ports: UnikernelPortsField,
    hostname: UnikernelHostnameField,
    user: UnikernelUserField,
    network: UnikernelNetworkField,
    volumes: UnikernelVolumesField,
    writable_paths: UnikernelWritablePathsField,
    ca_certificates: UnikernelCaCertificatesField,
    timezone: UnikernelTimezoneField,
) -> ImageSettings:
    settings = ImageSettings(
        memory_mib=memory.mib(address),
        cpus=cpus.parse(address),
        ports=ports.mappings(address),
        hostname=hostname.parse(address),
        user=user.parse(address),
        network=network.parse(address),
        volumes=volumes.parse(address),
        writable_paths=writable_paths.parse(address),
        ca_certificates=ca_certificates.value,
        timezone=timezone.parse(address),
    )
    if settings.network == "none" and settings.ports:
        raise InvalidFieldException(
            softwrap(
                f"""
                {address} sets `network="none"` (no network device) but also `ports`
                {[f"{h}:{g}" for h, g in settings.ports]}, which cannot be forwarded without one.
                Remove `ports`, or use `network="isolated"` (the default: only the forwarded
                ports reach the guest).
                """
            )
        )
    return settings


# ---------------------------------------------------------------------------------------------
# The command, checked against the image's files
# ---------------------------------------------------------------------------------------------


def resolve_command(
    address: Address,
    command: Sequence[str],
    entries: DigestEntries,
    env: Mapping[str, str],
    field_name: str,
) -> Tuple[str, ...]:
    """The command with its program as an absolute guest path, checked to exist in the image and
    to be executable. A bare name is looked up on the image's `PATH`, as a shell would."""
    if not command:
        raise InvalidFieldException(
            f"The `{field_name}` field of {address} is empty; give the program's path first, "
            'e.g. `command=["/app/server", "--port", "8080"]`.'
        )
    program = command[0]
    by_path = {e.path: e for e in entries}
    directories = {posixpath.dirname(e.path) for e in entries}
    search = env.get("PATH", DEFAULT_PATH).split(":")

    def executable(guest_path: str) -> Optional[str]:
        entry, _ = follow(by_path, guest_path.lstrip("/"))
        if isinstance(entry, FileEntry):
            return "yes" if entry.is_executable else "not executable"
        return None

    if "/" not in program:
        for d in search:
            if d.startswith("/") and executable(posixpath.join(d, program)) == "yes":
                return (posixpath.join(d, program), *command[1:])
        raise InvalidFieldException(
            softwrap(
                f"""
                The `{field_name}` field of {address} starts with {program!r}, which is not an
                absolute path and is on none of the image's `PATH` directories
                ({':'.join(search)}). Give the program's absolute path in the guest, e.g.
                `/app/{program}` for a file of the app (the app's own files are under /app).
                """
            )
        )
    if not program.startswith("/"):
        raise InvalidFieldException(
            softwrap(
                f"""
                The `{field_name}` field of {address} starts with {program!r}, a relative path;
                the guest has no shell to resolve it. Give the absolute path in the guest, e.g.
                `{posixpath.join('/app', program.lstrip('./'))}`.
                """
            )
        )
    state = executable(program)
    if state == "yes":
        return tuple(command)
    if state == "not executable":
        reason = "exists in the image but is not executable"
        fix = "Make the file executable (e.g. `chmod +x` it in the repository)"
    elif posixpath.normpath(program).lstrip("/") in directories:
        reason = "is a directory of the image"
        fix = "Name the program inside it"
    else:
        reason = "is not a file of the image"
        near = sorted(
            "/" + e.path
            for e in entries
            if isinstance(e, FileEntry) and e.is_executable
            and posixpath.basename(e.path) == posixpath.basename(program)
        )
        fix = (
            f"Did you mean {near[0]}?" if near else
            "Check the path (`pants package` the image and look at manifest.json's `files` or "
            "the rootfs), or add the target that provides it to `dependencies`"
        )
    raise InvalidFieldException(
        f"The `{field_name}` field of {address} runs {program!r}, which {reason}. {fix}."
    )


def check_volumes_against_files(
    address: Address, volumes: Iterable[GuestVolume], entries: DigestEntries
) -> None:
    """A volume mounted over the image's own files would hide them: refuse."""
    for volume in volumes:
        inside = sorted(
            "/" + e.path
            for e in entries
            if not isinstance(e, Directory) and overlaps("/" + e.path, volume.path)
            and ("/" + e.path).startswith(volume.path)
        )
        if inside:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `volumes` field of {address} mounts a volume at {volume.path!r}, which
                    would hide the image's own file {inside[0]}
                    {f'(and {len(inside) - 1} more)' if len(inside) > 1 else ''}: a volume
                    starts empty. Mount it at a directory of its own, e.g.
                    `{posixpath.join('/var/lib', posixpath.basename(volume.path) or 'data')}`,
                    and point the app at it.
                    """
                )
            )


# ---------------------------------------------------------------------------------------------
# /.uk/init.conf
# ---------------------------------------------------------------------------------------------


def check_line(value: str, field: str, address: Address) -> str:
    if "\n" in value or "\r" in value or '"' in value:
        raise InvalidFieldException(
            softwrap(
                f"""
                The `{field}` field of {address} has the value {value!r}, which contains a newline
                or a double quote; those cannot be passed to the guest. Remove them.
                """
            )
        )
    return value


def render_init_conf(
    address: Address,
    *,
    command: Sequence[str],
    env: Dict[str, str],
    workdir: str,
    settings: ImageSettings,
    memory_token: str,
    rootdisk: Optional[Tuple[str, str]] = None,  # (device, fstype)
    args_from: Optional[int] = None,  # index in `command` where the image's `args` start
) -> str:
    for key in env:
        if not key or "=" in key:
            raise InvalidFieldException(
                f"The `env` field of {address} has the variable name {key!r}; names must be "
                "non-empty and may not contain `=`."
            )
    lines = [
        "# Written by unikernel_rules; read by /init (init/config.c).",
        f"target {address}",
        f"memory_needed_mib {memory_token}",
        f"workdir {workdir}",
        f"hostname {settings.hostname}",
        *([f"args_from {args_from}"] if args_from else []),
        *(f"arg {check_line(a, 'command/args', address)}" for a in command),
        *(f"env {check_line(k, 'env', address)}={check_line(v, 'env', address)}" for k, v in sorted(env.items())),
    ]
    if settings.network == "none":
        lines.append("net none")
    elif settings.dhcp:
        # The kernel configured eth0 (`ip=dhcp`) before init; a cloud's network has no QEMU
        # host loopback alias to reject, and the ports come in on eth0.
        lines.append("net dhcp")
    else:
        # The host's loopback: QEMU maps 10.0.2.2 to 127.0.0.1. Forwarded ports come in on
        # eth1 (PORTS_NET) from its own alias, so rejecting this one breaks nothing. Init
        # skips it for `network="host"` (or `pants run --unikernel-run-network=host`).
        lines += [GUEST_NET, PORTS_NET, f"net_reject {HOST_LOOPBACK_ALIAS}"]
        if settings.network == "host":
            lines.append("net_host_loopback")
    if rootdisk is not None:
        lines.append(f"rootdisk {rootdisk[0]} {rootdisk[1]}")
    for volume in settings.volumes:
        lines.append(f"volume {volume.serial} {volume.fstype} {volume.path}")
    if "/" in settings.writable_paths:
        lines.append("writable_root")
    else:
        lines += [f"writable {p}" for p in settings.writable_paths]
    if not settings.user.is_root:
        lines.append(f"user {settings.user.uid} {settings.user.gid}")
    return "\n".join(lines) + "\n"
