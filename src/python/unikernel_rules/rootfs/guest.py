"""The files that make a guest look like a container's: `/etc/hostname`, `/etc/hosts`,
`/etc/resolv.conf`, `/etc/passwd`, `/etc/group`, `/etc/nsswitch.conf`, and on request Debian's
CA bundle and one time zone from `tzdata`.

Everything is generated from the image's fields (no host file is read), so it is reproducible.
A file the app (or its runtime, or a placed file) already has at one of these paths wins: the
generated one is left out.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from pants.engine.fs import (
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    PathGlobs,
    SymlinkEntry,
)
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from unikernel_rules.debian.rules import DebianPackagesRequest, DebianTree
from unikernel_rules.target_types.guest import GuestUser

# QEMU user networking: the guest's address and QEMU's DNS forwarder.
GUEST_IP = "10.0.2.15"
GUEST_DNS = "10.0.2.3"
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
CA_PACKAGE = "ca-certificates"
CA_SOURCE_DIR = "usr/share/ca-certificates/"
TZ_PACKAGE = "tzdata"
ZONEINFO = "usr/share/zoneinfo"

NSSWITCH = """\
# Written by unikernel_rules: only local files and DNS, no daemons.
passwd:    files
group:     files
shadow:    files
hosts:     files dns
networks:  files
protocols: files
services:  files
"""


@dataclass(frozen=True)
class GuestFilesRequest:
    hostname: str
    user: GuestUser
    home: str  # the app's working directory, the user's home
    network: str  # a NETWORK_MODES value
    ca_certificates: bool
    timezone: Optional[str]
    description_of_origin: str  # "the image //a:b", for errors


@dataclass(frozen=True)
class GuestFiles:
    files: Tuple[FileContent, ...]  # at their guest paths, without the leading `/`
    env: FrozenDict[str, str]  # what the app's environment gains (SSL_CERT_FILE, TZ)


def render_etc(hostname: str, user: GuestUser, home: str, network: str) -> Dict[str, str]:
    """The plain-text /etc files (path without the leading `/` -> content)."""
    # Like Docker: the host name resolves to the guest's own address (loopback without a NIC).
    own_ip = "127.0.1.1" if network == "none" else GUEST_IP
    passwd = ["root:x:0:0:root:/root:/sbin/nologin"]
    group = ["root:x:0:"]
    if not user.is_root:
        passwd.append(f"{user.name}:x:{user.uid}:{user.gid}:{user.name}:{home}:/sbin/nologin")
        if user.gid != 0:
            group.append(f"{user.name}:x:{user.gid}:")
    passwd.append("nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin")
    group.append("nogroup:x:65534:")
    files = {
        "etc/hostname": f"{hostname}\n",
        "etc/hosts": f"127.0.0.1\tlocalhost\n{own_ip}\t{hostname}\n",
        "etc/passwd": "\n".join(passwd) + "\n",
        "etc/group": "\n".join(group) + "\n",
        "etc/nsswitch.conf": NSSWITCH,
    }
    if network != "none":
        files["etc/resolv.conf"] = f"nameserver {GUEST_DNS}\n"
    return files


def ca_bundle(contents: DigestContents) -> bytes:
    """The PEM bundle `update-ca-certificates` would write: every certificate of the package, in
    path order (Debian's own order is `ca-certificates.conf`'s, also sorted by path)."""
    certs = sorted(
        (fc for fc in contents if fc.path.startswith(CA_SOURCE_DIR) and fc.path.endswith(".crt")),
        key=lambda fc: fc.path,
    )
    return b"".join(fc.content if fc.content.endswith(b"\n") else fc.content + b"\n" for fc in certs)


def resolve_zone(entries: DigestEntries, zone: str) -> Optional[str]:
    """The tree path of the regular file behind `usr/share/zoneinfo/<zone>` (tzdata ships some
    zones as symlinks, e.g. `UTC -> Etc/UTC`), or None."""
    by_path = {e.path: e for e in entries}
    path = posixpath.join(ZONEINFO, zone)
    for _ in range(8):
        entry = by_path.get(path)
        if isinstance(entry, FileEntry):
            return path
        if not isinstance(entry, SymlinkEntry):
            return None
        target = entry.target
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(posixpath.dirname(path), target)
        )
    return None


class GuestFilesError(Exception):
    pass


async def _package_tree(package: str, description_of_origin: str) -> DebianTree:
    """One locked Debian package's files (without its dependencies: data only)."""
    return await Get(
        DebianTree,
        DebianPackagesRequest((package,), description_of_origin=description_of_origin, with_dependencies=False),
    )


@rule(desc="Write the guest's /etc files", level=LogLevel.DEBUG)
async def guest_files(request: GuestFilesRequest) -> GuestFiles:
    files = [
        FileContent(path, text.encode())
        for path, text in sorted(
            render_etc(request.hostname, request.user, request.home, request.network).items()
        )
    ]
    env: Dict[str, str] = {}
    if request.ca_certificates:
        tree = await _package_tree(CA_PACKAGE, f"the CA certificates of {request.description_of_origin}")
        certs = await Get(Digest, DigestSubset(tree.digest, PathGlobs([f"{CA_SOURCE_DIR}**/*.crt"])))
        contents = await Get(DigestContents, Digest, certs)
        files.append(FileContent(CA_BUNDLE, ca_bundle(contents)))
        env["SSL_CERT_FILE"] = "/" + CA_BUNDLE
    if request.timezone:
        tree = await _package_tree(TZ_PACKAGE, f"the time zone of {request.description_of_origin}")
        entries = await Get(DigestEntries, Digest, tree.digest)
        path = resolve_zone(entries, request.timezone)
        if path is None:
            raise GuestFilesError(
                f"The `timezone` field of {request.description_of_origin} is "
                f"{request.timezone!r}, which Debian's locked tzdata does not have. Use an IANA "
                'name such as "Europe/Paris" or "UTC" (see /usr/share/zoneinfo on a Debian '
                "machine)."
            )
        # Only the zone's own file is read, not the ~1,800 of the package.
        zone = await Get(Digest, DigestSubset(tree.digest, PathGlobs([path])))
        (data,) = (fc.content for fc in await Get(DigestContents, Digest, zone))
        files += [
            FileContent(posixpath.join(ZONEINFO, request.timezone), data),
            FileContent("etc/localtime", data),
            FileContent("etc/timezone", f"{request.timezone}\n".encode()),
        ]
        env["TZ"] = request.timezone
    return GuestFiles(files=tuple(files), env=FrozenDict(env))


def rules():
    return collect_rules()
