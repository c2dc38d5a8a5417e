"""`pants publish` of a `unikernel_image`: for each registry of `registries` and each tag of
`image_tags`, push (a) the unikernel artifact (publish/layout.py: the bundle's files as layers
of an OCI 1.1 manifest) as `repository:tag`, (b) the container image (`formats` lists
`container`) as `repository:tag-container` and (c) a KubeVirt containerDisk of the qcow2 disk
(`formats` lists `qcow2`) as `repository:tag-containerdisk`, each with skopeo (found on the host, as Pants'
docker backend finds `docker`) through publish/push.py. One publish job per pushed reference.
"""

from __future__ import annotations

import importlib.resources
import json
import posixpath
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

from pants.core.goals.publish import (
    PublishFieldSet,
    PublishOutputData,
    PublishPackages,
    PublishProcesses,
    PublishRequest,
)
from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.core.util_rules.system_binaries import BinaryPathRequest, BinaryPaths, BinaryPathTest
from pants.engine.addresses import Address
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import AddPrefix, CreateDigest, Digest, DigestContents, DigestEntries, DigestSubset, FileContent, FileEntry, MergeDigests, PathGlobs
from pants.engine.process import InteractiveProcess
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import InvalidFieldException
from pants.util.frozendict import FrozenDict
from pants.util.strutil import softwrap

from unikernel_rules.containers.rules import CONTAINER_FILE, ContainerImage, ContainerImageRequest
from unikernel_rules.publish.layout import LAYOUT_REF, BundleFile, artifact_layout
from unikernel_rules.subsystems.unikernel_publish import LOOPBACK_HOSTS, UnikernelPublishSubsystem
from unikernel_rules.target_types.publish import (
    ADDRESS_RE,
    CONTAINER_TAG_SUFFIX,
    CONTAINERDISK_TAG_SUFFIX,
    UnikernelImageTagsField,
    UnikernelRegistriesField,
    UnikernelRepositoryField,
    UnikernelSkipPushField,
    default_repository,
)

LAYOUT_DIR = "__unikernel/artifact"
CONTAINERDISK_DIR = "__unikernel/containerdisk"
QCOW2_FILE = "disk.qcow2"
# KubeVirt's containerDisk: the disk at /disk/, owned by uid/gid 107 (its `qemu` user).
KUBEVIRT_UID = 107
PUSH_SCRIPT = "__unikernel/push.py"
# What skopeo reads credentials, proxies and certificates from (PATH: Docker credential helpers).
PASSED_ENV = ("PATH", "HOME", "XDG_RUNTIME_DIR", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "HTTP_PROXY", "HTTPS_PROXY",
              "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


class SkopeoNotFoundError(Exception):
    pass


@dataclass(frozen=True)
class Registry:
    label: str  # how the image names it: "@alias" or the address
    address: str  # host[:port]
    insecure: bool


def resolve_registries(address: Address, entries: Sequence[str], aliases: Mapping[str, Mapping]) -> Tuple[Registry, ...]:
    """The image's `registries`, aliases looked up; errors name the target, the field and the fix."""
    out: List[Registry] = []
    for entry in entries:
        if entry.startswith("@"):
            alias = aliases.get(entry[1:])
            if alias is None:
                known = ", ".join(f"@{a}" for a in sorted(aliases)) or "none defined"
                raise InvalidFieldException(
                    softwrap(
                        f"""
                        The `{UnikernelRegistriesField.alias}` field of {address} names the registry
                        alias {entry}, which `[unikernel-publish].registries` does not define (known:
                        {known}). Define it in pants.toml, e.g. `[unikernel-publish].registries =
                        {{"{entry[1:]}" = {{address = "registry.example.com:5000"}}}}`, or give the
                        address itself.
                        """
                    )
                )
            host = str(alias.get("address", ""))
            if not ADDRESS_RE.fullmatch(host):
                raise InvalidFieldException(
                    f"`[unikernel-publish].registries` gives the alias {entry} (used by {address}) the "
                    f"address {host!r}: give `host` or `host:port`, without a scheme or path."
                )
            out.append(Registry(entry, host, bool(alias.get("insecure", host.split(":")[0] in LOOPBACK_HOSTS))))
        else:
            out.append(Registry(entry, entry, entry.split(":")[0] in LOOPBACK_HOSTS))
    return tuple(out)


class PublishUnikernelImageRequest(PublishRequest):
    pass


@dataclass(frozen=True)
class PublishUnikernelImageFieldSet(PublishFieldSet):
    publish_request_type = PublishUnikernelImageRequest
    required_fields = (UnikernelRegistriesField,)

    registries: UnikernelRegistriesField
    repository: UnikernelRepositoryField
    image_tags: UnikernelImageTagsField
    skip_push: UnikernelSkipPushField

    def get_output_data(self) -> PublishOutputData:
        return PublishOutputData(
            {"publisher": "unikernel", "registries": self.registries.value or (), **super().get_output_data()}
        )


@dataclass(frozen=True)
class _Bundle:
    directory: str
    manifest: Dict
    entries: Dict[str, FileEntry]  # file name in the bundle -> its entry


async def _bundle(digest: Digest) -> _Bundle:
    entries = [e for e in await Get(DigestEntries, Digest, digest) if isinstance(e, FileEntry)]
    manifest_path = next(e.path for e in entries if posixpath.basename(e.path) == "manifest.json")
    contents = await Get(DigestContents, DigestSubset(digest, PathGlobs([manifest_path])))
    directory = posixpath.dirname(manifest_path)
    return _Bundle(
        directory,
        json.loads(contents[0].content),
        {posixpath.basename(e.path): e for e in entries if posixpath.dirname(e.path) == directory},
    )


async def _skopeo(options_env: UnikernelPublishSubsystem.EnvironmentAware) -> str:
    search_path = options_env.executable_search_path
    paths = await Get(
        BinaryPaths, BinaryPathRequest(binary_name="skopeo", search_path=search_path, test=BinaryPathTest(["--version"]))
    )
    if paths.first_path is None:
        raise SkopeoNotFoundError(
            softwrap(
                f"""
                `skopeo` was not found on the search path {list(search_path)}, and `pants publish`
                of a `unikernel_image` pushes with it. Install it (Debian/Ubuntu: `sudo apt-get
                install skopeo`, which build-support/setup-host.sh does; Fedora: `sudo dnf install
                skopeo`), or point `[unikernel-publish].executable_search_paths` at it.
                """
            )
        )
    return paths.first_path.path


async def containerdisk(address: Address, qcow2: FileEntry) -> Digest:
    """The KubeVirt containerDisk of the image's qcow2 disk (`/disk/disk.qcow2`, uid/gid 107),
    built by the container format's own process: `CONTAINERDISK_DIR/container.tar`."""
    root = await Get(Digest, CreateDigest([FileEntry(f"disk/{QCOW2_FILE}", qcow2.file_digest)]))
    image = await Get(
        ContainerImage,
        ContainerImageRequest(
            address,
            root,
            entrypoint=(),
            cmd=(),
            env=FrozenDict(),
            workdir="/",
            uid=KUBEVIRT_UID,
            gid=KUBEVIRT_UID,
            ports=(),
            owned_dirs=("disk",),
            owned_files=(f"disk/{QCOW2_FILE}",),
            labels=FrozenDict({"kind": "kubevirt-containerdisk"}),
            tag=f"latest{CONTAINERDISK_TAG_SUFFIX}",
            mount_dirs=False,
        ),
    )
    return await Get(Digest, AddPrefix(image.digest, CONTAINERDISK_DIR))


@rule(desc="Push a unikernel image to OCI registries")
async def push_unikernel_image(
    request: PublishUnikernelImageRequest,
    options: UnikernelPublishSubsystem,
    options_env: UnikernelPublishSubsystem.EnvironmentAware,
    python: PythonBuildStandaloneBinary,
) -> PublishProcesses:
    fs = request.field_set
    registries = resolve_registries(fs.address, fs.registries.value or (), options.alias_table())
    repository = fs.repository.value or default_repository(fs.address)
    tags = fs.image_tags.value or ("latest",)
    bundle = await _bundle(request.packages[0].digest)
    with_container = CONTAINER_FILE in bundle.entries
    with_disk = QCOW2_FILE in bundle.entries
    jobs: List[Tuple[Registry, str, str]] = []  # (registry, source, destination)
    for registry in registries:
        for tag in tags:
            jobs.append((registry, f"oci:{LAYOUT_DIR}:{LAYOUT_REF}", f"{registry.address}/{repository}:{tag}"))
            if with_container:
                source = f"oci-archive:{posixpath.join(bundle.directory, CONTAINER_FILE)}"
                jobs.append((registry, source, f"{registry.address}/{repository}:{tag}{CONTAINER_TAG_SUFFIX}"))
            if with_disk:
                source = f"oci-archive:{CONTAINERDISK_DIR}/{CONTAINER_FILE}"
                jobs.append((registry, source, f"{registry.address}/{repository}:{tag}{CONTAINERDISK_TAG_SUFFIX}"))
    if not jobs or fs.skip_push.value:
        why = f"by `{fs.skip_push.alias}`" if jobs else f"no `{fs.registries.alias}`"
        names = tuple(dest for _, _, dest in jobs) or (repository,)
        return PublishProcesses([PublishPackages(names=names, description=f"({why} on {fs.address})")])

    layout = artifact_layout(
        [BundleFile(name, e.file_digest.fingerprint, e.file_digest.serialized_bytes_length) for name, e in bundle.entries.items()],
        bundle.manifest,
    )
    script = importlib.resources.read_binary("unikernel_rules.publish", "push.py")
    files = await Get(
        Digest,
        CreateDigest(
            [
                FileContent(PUSH_SCRIPT, script),
                *(FileContent(posixpath.join(LAYOUT_DIR, path), data) for path, data in layout.json_files),
                # The bundle's own file digests: nothing is read or copied.
                *(FileEntry(posixpath.join(LAYOUT_DIR, path), bundle.entries[f.name].file_digest) for path, f in layout.blobs),
            ]
        ),
    )
    skopeo = await _skopeo(options_env)
    inputs = [files, request.packages[0].digest]
    if with_disk:
        inputs.append(await containerdisk(fs.address, bundle.entries[QCOW2_FILE]))
    digest, env = await MultiGet(
        Get(Digest, MergeDigests(inputs)),
        Get(EnvironmentVars, EnvironmentVarsRequest(PASSED_ENV)),
    )
    return PublishProcesses(
        [
            PublishPackages(
                names=(dest,),
                process=InteractiveProcess(
                    argv=(
                        python.path, PUSH_SCRIPT, "--skopeo", skopeo, "--src", source, "--dest", dest,
                        "--registry", registry.label, *(["--insecure"] if registry.insecure else []),
                    ),
                    input_digest=digest,
                    env=dict(env),
                ),
            )
            for registry, source, dest in jobs
        ]
    )


def rules():
    return (*collect_rules(), *PublishUnikernelImageFieldSet.rules())

