"""Fields of `unikernel_image` that shape the guest like a container: hostname, user, network,
volumes, writable paths, CA certificates and time zone.

Their values are checked when the image is built (`parse(address)`), not when the BUILD file is
read: one mistyped image must not break unrelated targets (Pants constructs every target of the
repository for dependency inference, so a `compute_value` that raises breaks every build).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Optional, Tuple

from pants.engine.addresses import Address
from pants.engine.target import (
    DictStringToStringField,
    InvalidFieldException,
    StringField,
    StringSequenceField,
    TriBoolField,
)
from pants.util.strutil import softwrap

# The unprivileged user every image runs its app as, unless `user` says otherwise.
APP_USER = "app"
APP_UID = 1000
APP_GID = 1000
# Paths of the guest that init mounts itself: nothing may be placed or mounted over them.
RESERVED_PATHS = ("/proc", "/sys", "/dev", "/tmp", "/.uk")

_HOSTNAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_UID_RE = re.compile(r"^(\d+)(?::(\d+))?$")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*(m|mb|mib|g|gb|gib|t|tb|tib)?\s*$", re.IGNORECASE)
_TZ_RE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")


def default_hostname(address: Address) -> str:
    """The target name as a DNS label: lowercase, other characters as `-`, at most 63."""
    label = re.sub(r"[^a-z0-9-]+", "-", address.target_name.lower()).strip("-")[:63].strip("-")
    return label or "unikernel"


def parse_size_mib(value: str) -> Optional[int]:
    """`"256MiB"`, `"256M"`, `"256"` (MiB), `"1G"`, `"1GiB"`, `"1T"` -> MiB; None if not a size."""
    match = _SIZE_RE.match(value)
    if not match:
        return None
    unit = (match.group(2) or "m").lower()[0]
    return int(match.group(1)) * {"m": 1, "g": 1024, "t": 1024 * 1024}[unit]


def _is_normal_absolute(path: str) -> bool:
    return path.startswith("/") and posixpath.normpath(path) == path and "//" not in path


def overlaps(a: str, b: str) -> bool:
    """True if one path is the other or lies below it."""
    a, b = a.rstrip("/") or "/", b.rstrip("/") or "/"
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


class UnikernelHostnameField(StringField):
    alias = "hostname"
    help = softwrap(
        """
        The guest's host name (`gethostname()`, `/etc/hostname`, and an `/etc/hosts` entry for
        127.0.1.1, so `InetAddress.getLocalHost()` and `socket.getfqdn()` work). Defaults to the
        target name as a DNS label, e.g. `image`. Lowercase letters, digits and `-`, at most 63.
        """
    )

    def parse(self, address: Address) -> str:
        if self.value is None:
            return default_hostname(address)
        if not _HOSTNAME_RE.match(self.value):
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{self.alias}` field of {address} is {self.value!r}, which is not a host
                    name. Use lowercase letters, digits and `-` (not first or last), at most 63
                    characters, e.g. `hostname="{default_hostname(address)}"`.
                    """
                )
            )
        return self.value


@dataclass(frozen=True)
class GuestUser:
    name: str
    uid: int
    gid: int

    @property
    def is_root(self) -> bool:
        return self.uid == 0


class UnikernelUserField(StringField):
    alias = "user"
    default = APP_USER
    help = softwrap(
        f"""
        Who the app runs as. `"{APP_USER}"` (the default): an unprivileged user, uid and gid
        {APP_UID}, with no capabilities and `no_new_privs` (it may still bind ports below 1024:
        `net.ipv4.ip_unprivileged_port_start=0`, as in Docker). Another name (`"www"`) is the
        same user under that name; `"UID"` or `"UID:GID"` (`"33:33"`) picks the numbers.
        `"root"` (or `"0"`) is an explicit opt-in: uid 0 with every capability. The image's
        `/etc/passwd` and `/etc/group` name the user; its home is the working directory.
        """
    )

    def parse(self, address: Address) -> GuestUser:
        value = (self.value or APP_USER).strip()
        if value == "root":
            return GuestUser("root", 0, 0)
        match = _UID_RE.match(value)
        if match:
            uid = int(match.group(1))
            gid = int(match.group(2)) if match.group(2) is not None else uid
            if uid < 2**31 - 1 and gid < 2**31 - 1:
                return GuestUser("root" if uid == 0 else APP_USER, uid, gid)
        elif _USERNAME_RE.match(value):
            return GuestUser(value, APP_UID, APP_GID)
        raise InvalidFieldException(
            softwrap(
                f"""
                The `{self.alias}` field of {address} is {value!r}, which is neither a user name
                nor `UID[:GID]`. Use `user="{APP_USER}"` (the default, unprivileged),
                `user="1000:1000"`, or `user="root"` to run the app as root.
                """
            )
        )


NETWORK_MODES = ("isolated", "outbound", "host", "none")


class UnikernelNetworkField(StringField):
    alias = "network"
    default = "isolated"
    help = softwrap(
        """
        What the guest's network can reach. `isolated` (the default): connections come in only
        through the forwarded `ports`; the guest can reach nothing, neither the internet nor
        the host. `outbound`: the guest may also connect out (internet, DNS through QEMU's
        resolver at 10.0.2.3), but not to services bound to the host's loopback (init rejects
        10.0.2.2, QEMU's alias of the host's 127.0.0.1). `host`: outbound plus the host's
        loopback through 10.0.2.2 (e.g. a database on the developer's machine). `none`: no
        network device at all (then `ports` must be empty). See docs/guest.md.
        """
    )

    def parse(self, address: Address) -> str:
        value = self.value or self.default
        if value not in NETWORK_MODES:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{self.alias}` field of {address} is {value!r}, which is not a network
                    mode. Use one of {', '.join(repr(m) for m in NETWORK_MODES)}, e.g.
                    `network="outbound"` to let the app connect to the internet.
                    """
                )
            )
        return value


@dataclass(frozen=True)
class GuestVolume:
    path: str
    size_mib: int
    serial: str
    fstype: str = "ext4"


VOLUME_MIN_MIB = 8
VOLUME_MAX_MIB = 16 * 1024 * 1024


class UnikernelVolumesField(DictStringToStringField):
    alias = "volumes"
    help = softwrap(
        f"""
        Persistent, writable data disks: guest path -> size, e.g. `{{"/var/lib/app": "256MiB"}}`
        (sizes in MiB, GiB or TiB: `"256M"`, `"1GiB"`). `pants run` attaches one ext4 disk per
        volume, kept between runs in `[unikernel-run].state_dir`, formatted on first use and
        mounted (owned by the app's user) before the app starts; writes survive reboots.
        Volumes are run-time state: they are never part of the bundle or of any cache key.
        Paths must be absolute and may not be `/`, hold the image's own files, overlap each
        other or lie under {', '.join(RESERVED_PATHS)}. Sizes {VOLUME_MIN_MIB} MiB to 16 TiB.
        """
    )

    def parse(self, address: Address) -> Tuple[GuestVolume, ...]:
        volumes = []
        paths = sorted((self.value or {}).keys())
        for i, path in enumerate(paths):
            size = self.value[path]  # type: ignore[index]
            problem = None
            if not _is_normal_absolute(path):
                problem = "is not an absolute, normalised path (like `/var/lib/app`)"
            elif path == "/":
                problem = "is the root: a volume must be a directory below it"
            elif any(overlaps(path, r) for r in RESERVED_PATHS):
                problem = f"overlaps {', '.join(r for r in RESERVED_PATHS if overlaps(path, r))}, which init mounts itself"
            else:
                other = next((p for p in paths if p != path and overlaps(p, path)), None)
                if other:
                    problem = f"overlaps the volume {other!r}: give each volume its own directory"
            if problem:
                raise InvalidFieldException(
                    softwrap(
                        f"""
                        The `{self.alias}` field of {address} has the path {path!r}, which
                        {problem}. Use e.g. `volumes={{"/var/lib/app": "256MiB"}}`.
                        """
                    )
                )
            mib = parse_size_mib(size)
            if mib is None or not VOLUME_MIN_MIB <= mib <= VOLUME_MAX_MIB:
                raise InvalidFieldException(
                    softwrap(
                        f"""
                        The `{self.alias}` field of {address} gives {path!r} the size {size!r},
                        which is not a size between {VOLUME_MIN_MIB} MiB and 16 TiB. Use e.g.
                        `"256MiB"`, `"512M"` or `"1GiB"`.
                        """
                    )
                )
            volumes.append(GuestVolume(path=path, size_mib=mib, serial=f"vol{i}"))
        return tuple(volumes)


class UnikernelWritablePathsField(StringSequenceField):
    alias = "writable_paths"
    help = softwrap(
        """
        The root filesystem is read-only for the app (like `docker run --read-only`): only
        `/tmp`, `/dev/shm`, the working directory, `volumes` and these paths can be written.
        Each is an absolute directory; writes to it live in RAM and are lost at power-off (use
        `volumes` to keep data). `["/"]` makes the whole root writable again (RAM-backed).
        """
    )

    def parse(self, address: Address) -> Tuple[str, ...]:
        for path in self.value or ():
            if not _is_normal_absolute(path) or any(
                overlaps(path, r) and path != "/" for r in ("/proc", "/sys", "/dev", "/.uk")
            ):
                raise InvalidFieldException(
                    softwrap(
                        f"""
                        The `{self.alias}` field of {address} has {path!r}; writable paths must
                        be absolute, normalised directories outside /proc, /sys, /dev and /.uk,
                        e.g. `writable_paths=["/var/cache/app"]` (or `["/"]` for all).
                        """
                    )
                )
        return tuple(sorted(set(self.value or ())))


class UnikernelCaCertificatesField(TriBoolField):
    alias = "ca_certificates"
    help = softwrap(
        """
        Put Debian's CA certificates (the locked `ca-certificates` package) into the image as
        `/etc/ssl/certs/ca-certificates.crt` (PEM bundle, also `SSL_CERT_FILE`; for Java also
        the JVM's trust store), so HTTPS clients can verify servers. Default: yes for Python
        and Java images, no for C images (set `True` for a C app that uses TLS). The image's
        own CAs, PEM `*.crt` files placed by `unikernel_files` under
        `/usr/local/share/ca-certificates`, are added after Debian's (with `False`: only
        them). See docs/guest.md.
        """
    )


class UnikernelTimezoneField(StringField):
    alias = "timezone"
    help = softwrap(
        """
        A time zone of the IANA database, e.g. `"Europe/Paris"`: the image gets that zone's
        file from Debian's locked `tzdata` at `/usr/share/zoneinfo/<zone>`, `/etc/localtime`
        and `TZ`. Default: none (UTC, and no zone data).
        """
    )

    def parse(self, address: Address) -> Optional[str]:
        if self.value is not None and (not _TZ_RE.match(self.value) or ".." in self.value):
            raise InvalidFieldException(
                f"The `{self.alias}` field of {address} is {self.value!r}, which is not a time "
                'zone name. Use an IANA name such as `timezone="Europe/Paris"` or `"UTC"`.'
            )
        return self.value


GUEST_FIELDS = (
    UnikernelHostnameField,
    UnikernelUserField,
    UnikernelNetworkField,
    UnikernelVolumesField,
    UnikernelWritablePathsField,
    UnikernelCaCertificatesField,
    UnikernelTimezoneField,
)
