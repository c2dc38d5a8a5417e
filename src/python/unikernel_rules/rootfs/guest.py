"""The files that make a guest look like a container's: `/etc/hostname`, `/etc/hosts`,
`/etc/resolv.conf`, `/etc/passwd`, `/etc/group`, `/etc/nsswitch.conf`, and on request Debian's
CA bundle and one time zone from `tzdata`.

Everything is generated from the image's fields (no host file is read), so it is reproducible.
A file the app (or its runtime, or a placed file) already has at one of these paths wins: the
generated one is left out. The image's own CA certificates, placed by `unikernel_files` under
`/usr/local/share/ca-certificates/`, join the CA bundle as with Debian's `update-ca-certificates`;
for a Java app the same certificates also become its runtime's trust store (rootfs/jks.py).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from pants.engine.fs import (
    EMPTY_DIGEST,
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    PathGlobs,
)
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from unikernel_rules.debian.lock import LockedDebianPackage
from unikernel_rules.debian.rules import DebianPackagesRequest, DebianTree
from unikernel_rules.sbom.api import Provenance
from unikernel_rules.rootfs.jks import jks_trust_store, pem_certificates
from unikernel_rules.rootfs.symlinks import follow
from unikernel_rules.target_types.guest import GuestUser

# QEMU user networking: the guest's address and QEMU's DNS forwarder.
GUEST_IP = "10.0.2.15"
GUEST_DNS = "10.0.2.3"
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
CA_PACKAGE = "ca-certificates"
CA_SOURCE_DIR = "usr/share/ca-certificates/"
# Where an image's own CA certificates go (placed by `unikernel_files`): like Debian's
# `update-ca-certificates`, every `*.crt` there joins the bundle, after Debian's.
LOCAL_CA_DIR = "usr/local/share/ca-certificates/"
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
    # The image's own `usr/local/share/ca-certificates/**/*.crt` (a subset of its files).
    local_ca_certificates: Digest = EMPTY_DIGEST
    # Where the app's runtime reads CA certificates as a Java key store (no leading `/`), or "".
    java_trust_store: str = ""
    # The address comes from DHCP (a cloud `platform`): unknown when building, and so is the DNS
    # server (init writes /etc/resolv.conf from what DHCP gave).
    dhcp: bool = False


@dataclass(frozen=True)
class GuestFiles:
    files: Tuple[FileContent, ...]  # at their guest paths, without the leading `/`
    env: FrozenDict[str, str]  # what the app's environment gains (SSL_CERT_FILE, TZ)
    # The Debian packages the CA bundle and the time zone come from (for the SBOM).
    provenance: Provenance = Provenance()


def render_etc(hostname: str, user: GuestUser, home: str, network: str, dhcp: bool = False) -> Dict[str, str]:
    """The plain-text /etc files (path without the leading `/` -> content)."""
    # Like Docker: the host name resolves to the guest's own address (loopback without a NIC,
    # or when DHCP picks the address at boot).
    own_ip = "127.0.1.1" if network == "none" or dhcp else GUEST_IP
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
    if network != "none" and not dhcp:
        files["etc/resolv.conf"] = f"nameserver {GUEST_DNS}\n"
    return files


def ca_files(contents: Iterable[FileContent], local: Iterable[FileContent] = ()) -> List[FileContent]:
    """The certificate files `update-ca-certificates` would take: every one of the package, in
    path order (Debian's own order is `ca-certificates.conf`'s, also sorted by path), then the
    local ones (`/usr/local/share/ca-certificates/**/*.crt`), in path order too."""

    def crts(files: Iterable[FileContent], prefix: str) -> List[FileContent]:
        return sorted(
            (fc for fc in files if fc.path.startswith(prefix) and fc.path.endswith(".crt")),
            key=lambda fc: fc.path,
        )

    return crts(contents, CA_SOURCE_DIR) + crts(local, LOCAL_CA_DIR)


def ca_bundle(files: Iterable[FileContent]) -> bytes:
    """The PEM bundle of `ca_files`: their contents, each newline-terminated."""
    return b"".join(fc.content if fc.content.endswith(b"\n") else fc.content + b"\n" for fc in files)


def java_trust_store(files: Iterable[FileContent]) -> bytes:
    """The same certificates as a Java trust store (rootfs/jks.py), aliased like Debian's
    `ca-certificates-java` (`debian:<file>`; `local:<path>` for the image's own)."""
    entries = []
    for fc in files:
        if fc.path.startswith(LOCAL_CA_DIR):
            name = "local:" + fc.path[len(LOCAL_CA_DIR) :]
        else:
            name = "debian:" + posixpath.basename(fc.path)
        for i, der in enumerate(pem_certificates(fc.content)):
            entries.append((name if i == 0 else f"{name}-{i + 1}", der))
    return jks_trust_store(entries)


def check_local_ca_certificates(contents: Iterable[FileContent], description_of_origin: str) -> None:
    """A local CA file must hold PEM certificates (what `update-ca-certificates` takes)."""
    for fc in sorted(contents, key=lambda fc: fc.path):
        if b"-----BEGIN CERTIFICATE-----" not in fc.content:
            raise GuestFilesError(
                f"/{fc.path} of {description_of_origin} is in /{LOCAL_CA_DIR}, where every `*.crt` "
                "joins the image's CA bundle, but it holds no PEM certificate (`-----BEGIN "
                "CERTIFICATE-----`). Convert a DER file with `openssl x509 -inform der -in FILE "
                "-out FILE.crt`, or place the file elsewhere."
            )


def resolve_zone(entries: DigestEntries, zone: str) -> Optional[str]:
    """The tree path of the regular file behind `usr/share/zoneinfo/<zone>` (tzdata ships some
    zones as symlinks, e.g. `UTC -> Etc/UTC`), or None."""
    entry, path = follow({e.path: e for e in entries}, posixpath.join(ZONEINFO, zone))
    return path if isinstance(entry, FileEntry) else None


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
            render_etc(request.hostname, request.user, request.home, request.network, request.dhcp).items()
        )
    ]
    env: Dict[str, str] = {}
    packages: List[LockedDebianPackage] = []
    derived: Dict[str, str] = {}
    local = await Get(DigestContents, Digest, request.local_ca_certificates)
    check_local_ca_certificates(local, request.description_of_origin)
    if request.ca_certificates or local:
        # Local certificates alone (ca_certificates=False): a bundle of only the image's own CAs.
        contents = DigestContents()
        if request.ca_certificates:
            tree = await _package_tree(CA_PACKAGE, f"the CA certificates of {request.description_of_origin}")
            certs = await Get(Digest, DigestSubset(tree.digest, PathGlobs([f"{CA_SOURCE_DIR}**/*.crt"])))
            contents = await Get(DigestContents, Digest, certs)
            packages += tree.packages
            derived[CA_BUNDLE] = CA_PACKAGE
            if request.java_trust_store:
                derived[request.java_trust_store] = CA_PACKAGE
        certificates = ca_files(contents, local)
        files.append(FileContent(CA_BUNDLE, ca_bundle(certificates)))
        env["SSL_CERT_FILE"] = "/" + CA_BUNDLE
        if request.java_trust_store:
            files.append(FileContent(request.java_trust_store, java_trust_store(certificates)))
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
        packages += tree.packages
        derived["etc/localtime"] = TZ_PACKAGE
    provenance = Provenance(debian=tuple(packages), derived=FrozenDict(derived))
    return GuestFiles(files=tuple(files), env=FrozenDict(env), provenance=provenance)


def rules():
    return collect_rules()
