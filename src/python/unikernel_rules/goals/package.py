"""`pants package` of a `unikernel_image`: app + init + kernel -> a direct-boot bundle directory."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from dataclasses import dataclass
from typing import Dict, Optional

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.core.goals.run import RunFieldSet, RunInSandboxBehavior
from pants.engine.addresses import Address, AddressInput
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
    Snapshot,
)
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    DependenciesRequest,
    FieldSetsPerTarget,
    FieldSetsPerTargetRequest,
    InvalidFieldException,
    Targets,
)
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.goals.image_settings import (
    ImageSettings,
    check_volumes_against_files,
    image_settings,
    render_init_conf,
    resolve_command,
)
from unikernel_rules.containers.rules import ContainerImage, ContainerImageRequest
from unikernel_rules.formats.names import BUNDLE, CONTAINER, DEFAULT_FORMATS, disk_formats
from unikernel_rules.formats.rules import BootableDisks, BootableDisksRequest, image_formats, root_partuuid
from unikernel_rules.init.rules import BuiltInit
from unikernel_rules.kernel.rules import BuiltKernel, KernelRequest
from unikernel_rules.platforms.checks import check_platform, image_platform, platform_kernel_params
from unikernel_rules.platforms.names import QEMU
from unikernel_rules.rootfs.guest import LOCAL_CA_DIR, GuestFiles, GuestFilesRequest
from unikernel_rules.rootfs.placement import ImageFiles, ImageFilesRequest
from unikernel_rules.rootfs.image import ROOTFS_IMAGE, RootfsImage, RootfsImageRequest
from unikernel_rules.rootfs.rules import MEMORY_TOKEN, pack_initrd
from unikernel_rules.sbom.rules import Sbom, SbomRequest
from unikernel_rules.runtimes.api import (
    DISK_ROOT_MEMORY_BASE_MIB,
    KERNEL_MEMORY_BASE_MIB,
    UnikernelApp,
    UnikernelAppFieldSet,
)
from unikernel_rules.subsystems.unikernel import UnikernelSubsystem
from unikernel_rules.target_types import (
    UnikernelArgsField,
    UnikernelCommandField,
    UnikernelCpusField,
    UnikernelEnvField,
    UnikernelImageDependenciesField,
    UnikernelImageTarget,
    UnikernelInitrdCompressionField,
    UnikernelKernelArgsField,
    UnikernelKernelField,
    UnikernelMemoryField,
    UnikernelOutputPathField,
    UnikernelPortsField,
    UnikernelRootField,
    UnikernelDiskCompressionField,
    UnikernelFormatsField,
    UnikernelPlatformField,
    UnikernelCaCertificatesField,
    UnikernelHostnameField,
    UnikernelNetworkField,
    UnikernelTimezoneField,
    UnikernelUserField,
    UnikernelVolumesField,
    UnikernelWritablePathsField,
)

logger = logging.getLogger(__name__)

MANIFEST_SCHEMA = 1


@dataclass(frozen=True)
class UnikernelImageFieldSet(PackageFieldSet, RunFieldSet):
    required_fields = (UnikernelImageDependenciesField, UnikernelMemoryField)
    run_in_sandbox_behavior = RunInSandboxBehavior.RUN_REQUEST_HERMETIC

    dependencies: UnikernelImageDependenciesField
    kernel: UnikernelKernelField
    command: UnikernelCommandField
    args: UnikernelArgsField
    env: UnikernelEnvField
    memory: UnikernelMemoryField
    cpus: UnikernelCpusField
    ports: UnikernelPortsField
    kernel_args: UnikernelKernelArgsField
    initrd_compression: UnikernelInitrdCompressionField
    root: UnikernelRootField
    disk_compression: UnikernelDiskCompressionField
    hostname: UnikernelHostnameField
    user: UnikernelUserField
    network: UnikernelNetworkField
    volumes: UnikernelVolumesField
    writable_paths: UnikernelWritablePathsField
    ca_certificates: UnikernelCaCertificatesField
    timezone: UnikernelTimezoneField
    formats: UnikernelFormatsField
    platform: UnikernelPlatformField
    output_path: UnikernelOutputPathField

    def settings(self) -> ImageSettings:
        return image_settings(
            self.address,
            memory=self.memory,
            cpus=self.cpus,
            ports=self.ports,
            hostname=self.hostname,
            user=self.user,
            network=self.network,
            volumes=self.volumes,
            writable_paths=self.writable_paths,
            ca_certificates=self.ca_certificates,
            timezone=self.timezone,
        )


@dataclass(frozen=True)
class UnikernelBundle:
    """The bundle's files (kernel, initrd, cmdline, manifest.json) under `directory`."""

    digest: Digest
    directory: str
    manifest: str


def root_kind_of(address: Address, field_set: UnikernelImageFieldSet, app: UnikernelApp) -> str:
    """The image's `root` field, or the runtime's choice when it is `auto`."""
    kind = field_set.root.value or "auto"
    if kind == "auto":
        kind = app.root
    if kind not in ("initramfs", "disk"):
        raise InvalidFieldException(
            f"The {app.runtime} runtime asked for the root {kind!r} for {address}; expected "
            "`initramfs` or `disk` (a bug in that runtime: set `root` on the image to override)."
        )
    return kind


def kernel_address_input(address: Address, kernel: Optional[str], default_kernel: str) -> AddressInput:
    """The image's `kernel` field (else `[unikernel].default_kernel`); relative addresses
    (":linux") are relative to the image's BUILD file."""
    return AddressInput.parse(
        kernel or default_kernel,
        relative_to=address.spec_path,
        description_of_origin=f"the `kernel` field of {address}",
    )


@rule(desc="Assemble a unikernel image", level=LogLevel.DEBUG)
async def assemble_unikernel_image(
    field_set: UnikernelImageFieldSet, unikernel: UnikernelSubsystem
) -> UnikernelBundle:
    address = field_set.address
    settings = field_set.settings()  # every field checked before any work
    deps = await Get(Targets, DependenciesRequest(field_set.dependencies))
    app_field_sets = await Get(
        FieldSetsPerTarget, FieldSetsPerTargetRequest(UnikernelAppFieldSet, deps)
    )
    apps = [fs for per_target in app_field_sets.collection for fs in per_target]
    if len(apps) != 1:
        found = ", ".join(str(fs.address) for fs in apps)
        raise InvalidFieldException(
            softwrap(
                f"""
                The `dependencies` field of the `{UnikernelImageTarget.alias}` {address} must
                name exactly one app to boot (a `c_program` or a `pex_binary`), but it names
                {len(apps)}{': ' + found if found else ''}. {'Add the app target to `dependencies`, e.g. `dependencies=[":app"]`.' if not apps else 'Split them into one `unikernel_image` per app.'}
                """
            )
        )
    kernel_address = await Get(
        Address, AddressInput, kernel_address_input(address, field_set.kernel.value, unikernel.default_kernel)
    )
    formats = tuple(field_set.formats.value or DEFAULT_FORMATS)
    disks = disk_formats(formats)
    platform = image_platform(address, field_set.platform.value or QEMU)
    check_platform(address, platform, formats, len(settings.volumes))
    settings = dataclasses.replace(settings, dhcp=platform.address == "dhcp")
    # Disks boot through firmware: their kernel has the `efi` fragment. Disk-root images get it
    # too, so that they share one kernel whether or not they build disks. A platform other than
    # `qemu` has one kernel for all its images: disk, efi and its own fragment, always.
    on_platform = platform.fragment is not None

    def kernel_request(disk_fragment: bool) -> KernelRequest:
        return KernelRequest(
            kernel_address,
            address,
            disk_fragment or on_platform,
            efi=bool(disks) or disk_fragment or on_platform,
            platform_fragment=platform.fragment,
        )
    # The kernel depends on the root kind (a disk root adds the `disk` fragment, which also
    # holds ext4 for volumes). Build it in parallel with the app when the image says which
    # root; else ask the runtime first.
    if (field_set.root.value or "auto") == "auto":
        app = await Get(UnikernelApp, UnikernelAppFieldSet, apps[0])
        root_kind = root_kind_of(address, field_set, app)
        disk_fragment = root_kind == "disk" or bool(settings.volumes)
        kernel, init = await MultiGet(Get(BuiltKernel, KernelRequest, kernel_request(disk_fragment)), Get(BuiltInit))
    else:
        root_kind = field_set.root.value
        disk_fragment = root_kind == "disk" or bool(settings.volumes)
        app, kernel, init = await MultiGet(
            Get(UnikernelApp, UnikernelAppFieldSet, apps[0]),
            Get(BuiltKernel, KernelRequest, kernel_request(disk_fragment)),
            Get(BuiltInit),
        )

    # Extra files (`files`, `resources`, `relocated_files`, `unikernel_files`) around the app's;
    # any other dependency, or two files at one guest path, is an error (rootfs/placement.py).
    placed = await Get(
        ImageFiles, ImageFilesRequest(address, field_set.dependencies, apps[0].address, app.digest)
    )
    app_files = placed.digest

    # The container-like /etc (hostname, hosts, passwd, ...), CA bundle and time zone; a file
    # the app already has at one of those paths wins.
    app_entries = await Get(DigestEntries, Digest, app_files)
    local_ca = await Get(Digest, DigestSubset(app_files, PathGlobs([f"{LOCAL_CA_DIR}**/*.crt"])))
    guest = await Get(
        GuestFiles,
        GuestFilesRequest(
            hostname=settings.hostname,
            user=settings.user,
            home=app.workdir,
            network=settings.network,
            dhcp=settings.dhcp,
            ca_certificates=(
                settings.ca_certificates
                if settings.ca_certificates is not None
                else app.runtime in ("python", "java")
            ),
            timezone=settings.timezone,
            description_of_origin=f"the image {address}",
            local_ca_certificates=local_ca,
            java_trust_store=app.java_trust_store,
        ),
    )
    taken = {e.path for e in app_entries}
    guest_digest = await Get(
        Digest, CreateDigest([fc for fc in guest.files if fc.path not in taken])
    )
    app_files = await Get(Digest, MergeDigests([app_files, guest_digest]))
    entries_for_checks = await Get(DigestEntries, Digest, app_files)

    env: Dict[str, str] = dict(guest.env)
    if not settings.user.is_root:
        env["HOME"] = app.workdir
    env.update(app.env)
    env.update(field_set.env.value or {})
    command = resolve_command(
        address,
        list(field_set.command.value or app.command),
        entries_for_checks,
        env,
        "command",
    )
    args_from = len(command)  # what `--unikernel-run-replace-args` replaces starts here
    command += tuple(field_set.args.value or ())
    check_volumes_against_files(address, settings.volumes, entries_for_checks)

    rootdisk: Optional[RootfsImage] = None
    if root_kind == "disk":
        # The app's files go on a squashfs disk; the initramfs keeps only init + init.conf.
        rootdisk = await Get(
            RootfsImage,
            RootfsImageRequest(
                app_files,
                description=f"Building the root filesystem image of {address}",
                compression=(
                    app.disk_compression
                    if field_set.disk_compression.value in (None, "auto")
                    else field_set.disk_compression.value
                ),
            ),
        )
    conf_with_root = functools.partial(
        render_init_conf,
        address,
        command=command,
        env=env,
        workdir=app.workdir,
        settings=settings,
        memory_token=MEMORY_TOKEN,
        args_from=args_from,
    )
    init_conf = conf_with_root(rootdisk=(platform.bundle_root_device, rootdisk.fstype) if rootdisk else None)
    initrd_files = [init.digest] if rootdisk else [init.digest, app_files]
    initrd_compression = field_set.initrd_compression.value or "gzip"
    memory_base_mib = (DISK_ROOT_MEMORY_BASE_MIB if rootdisk else KERNEL_MEMORY_BASE_MIB) + app.memory_mib
    initrd = await pack_initrd(
        init_conf,
        initrd_files,
        compression=initrd_compression,
        memory_base_mib=memory_base_mib,
        description=f"Packing the initramfs of {address}",
    )
    # On a bootable disk the root is a GPT partition, found by its GUID (derived from rootfs.img).
    disk_partuuid: Optional[str] = None
    disk_initrd = initrd
    if disks and rootdisk:
        rootfs_entries = await Get(DigestEntries, Digest, rootdisk.digest)
        rootfs_sha256 = next(e.file_digest.fingerprint for e in rootfs_entries if isinstance(e, FileEntry))
        disk_partuuid = root_partuuid(rootfs_sha256)
        disk_conf = conf_with_root(rootdisk=(f"PARTUUID={disk_partuuid}", rootdisk.fstype))
        disk_initrd = await pack_initrd(
            disk_conf,
            initrd_files,
            compression=initrd_compression,
            memory_base_mib=memory_base_mib,
            description=f"Packing the disk's initramfs of {address}",
        )

    cmdline = " ".join(
        [
            *unikernel.kernel_cmdline,
            *platform_kernel_params(platform, settings.network),
            *(field_set.kernel_args.value or ()),
        ]
    )
    cmdline_digest = await Get(Digest, CreateDigest([FileContent("cmdline", (cmdline + "\n").encode())]))
    bundle_pieces = [kernel.kernel, initrd.digest, cmdline_digest, *([rootdisk.digest] if rootdisk else [])]
    # The SBOM, the bootable disks and the container image are independent: built in parallel.
    sbom_request = SbomRequest(
        address,
        apps[0].address,
        app.runtime,
        root=app_files,
        init=init.digest,
        init_conf=init_conf.replace(MEMORY_TOKEN, str(initrd.memory_needed_mib)),
        bundle=await Get(Digest, MergeDigests(bundle_pieces)),
        provenance=app.provenance.merge(guest.provenance),
        kernel=kernel,
    )
    gets: list = [Get(Sbom, SbomRequest, sbom_request)]
    if disks:
        gets.append(
            Get(
                BootableDisks,
                BootableDisksRequest(
                    formats=tuple(f.name for f in disks),
                    kernel=kernel.kernel,
                    initrd=disk_initrd.digest,
                    cmdline=cmdline,
                    rootfs=rootdisk.digest if rootdisk else None,
                    root_partuuid=disk_partuuid,
                    image=str(address),
                ),
            )
        )
    if CONTAINER in formats:
        # The same root tree as the VM's, with the image's command, env, user and ports.
        gets.append(
            Get(
                ContainerImage,
                ContainerImageRequest(
                    address,
                    app_files,
                    entrypoint=command[:args_from],
                    cmd=command[args_from:],
                    env=FrozenDict(env),
                    workdir=app.workdir,
                    uid=settings.user.uid,
                    gid=settings.user.gid,
                    ports=tuple(guest for _, guest in settings.ports),
                    owned_dirs=(app.workdir, *settings.writable_paths),
                    labels=FrozenDict({"runtime": app.runtime}),
                ),
            )
        )
    results = list(await MultiGet(gets))
    sbom: Sbom = results.pop(0)
    built_disks: Optional[BootableDisks] = results.pop(0) if disks else None
    container: Optional[ContainerImage] = results.pop(0) if CONTAINER in formats else None
    outputs = await Get(
        Digest,
        MergeDigests(
            [
                *(bundle_pieces if BUNDLE in formats else []),
                *([built_disks.digest] if built_disks else []),
                *([container.digest] if container else []),
                sbom.digest,
            ]
        ),
    )
    entries = await Get(DigestEntries, Digest, outputs)
    # A file digest's fingerprint is the sha256 of its bytes: no need to read big images.
    files = {
        e.path: {"size": e.file_digest.serialized_bytes_length, "sha256": e.file_digest.fingerprint}
        for e in sorted(entries, key=lambda e: e.path)
        if isinstance(e, FileEntry)
    }
    bundle_names = ["kernel", "initrd", "cmdline", *([ROOTFS_IMAGE] if rootdisk else [])]
    memory_mib = settings.memory_mib
    if memory_mib is None:  # `auto`: the runtime's typical need, never below the estimate
        memory_mib = max(
            app.typical_memory_mib or UnikernelMemoryField.auto_default_mib,
            initrd.memory_needed_mib,
        )
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "target": str(address),
        "runtime": app.runtime,
        "app": dict(app.info),
        "kernel": {
            "target": str(kernel.address),
            "version": kernel.version,
            "release": kernel.release,
            "fragments": list(kernel.fragments),
        },
        "kernel_version": kernel.version,
        "memory_mib": memory_mib,
        "memory_needed_mib": initrd.memory_needed_mib,
        "cpus": settings.cpus,
        "ports": [{"host": h, "guest": g} for h, g in settings.ports],
        "hostname": settings.hostname,
        "network": settings.network,
        # Where it runs, and the QEMU devices `pants run` boots it with (docs/platforms.md).
        "platform": {
            "name": platform.name,
            "disk": platform.qemu_disk,
            "nic": platform.qemu_nic,
            "address": platform.address,
        },
        "user": {"name": settings.user.name, "uid": settings.user.uid, "gid": settings.user.gid},
        "volumes": [
            {
                "path": v.path,
                "size_mib": v.size_mib,
                "serial": v.serial,
                "fstype": v.fstype,
                "uid": settings.user.uid,
                "gid": settings.user.gid,
            }
            for v in settings.volumes
        ],
        "writable_paths": list(settings.writable_paths),
        "cmdline": cmdline,
        "initrd": {
            "compression": field_set.initrd_compression.value,
            "entries": initrd.entries,
            "unpacked_bytes": initrd.unpacked_bytes,
        },
        "root": (
            {
                "kind": "disk",
                "image": ROOTFS_IMAGE,
                "device": platform.bundle_root_device,
                "fstype": rootdisk.fstype,
                "compression": rootdisk.compression,
                "files": rootdisk.files,
                "unpacked_bytes": rootdisk.unpacked_bytes,
                "overlay": "tmpfs",
            }
            if rootdisk
            else {"kind": "initramfs"}
        ),
        "files": files,
        # The SPDX 2.3 document of every file of the image and its origin (docs/sbom.md).
        "sbom": sbom.manifest_entry(),
        # The direct-boot bundle's bytes (every written file's when `formats` has no `bundle`).
        "total_bytes": sum(
            f["size"] for name, f in files.items() if name in bundle_names or BUNDLE not in formats
        ),
        "formats": image_formats(
            formats,
            bundle_names,
            built_disks,
            files,
            {CONTAINER: container.manifest_entry(formats.index(CONTAINER), files[container.file]["size"])}
            if container
            else {},
        ),
    }
    if built_disks:
        manifest["disk"] = {
            "firmware": ["bios", "uefi"],
            "root_partuuid": disk_partuuid,
            "cmdline": cmdline,
            "layout": built_disks.raw.layout,
        }
    if memory_mib < initrd.memory_needed_mib:
        logger.warning(
            softwrap(
                f"""
                {address}: `memory` is {memory_mib} MiB but the image probably needs about
                {initrd.memory_needed_mib} MiB ({initrd.unpacked_bytes} bytes of files in RAM
                plus the kernel{' and the disk root' if rootdisk else ''}). If it fails to boot,
                raise `memory`.
                """
            )
        )
    manifest_digest = await Get(
        Digest,
        CreateDigest(
            [FileContent("manifest.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())]
        ),
    )
    directory = field_set.output_path.value_or_default(file_ending=None)
    bundle = await Get(Digest, MergeDigests([outputs, manifest_digest]))
    bundle = await Get(Digest, AddPrefix(bundle, directory))
    return UnikernelBundle(bundle, directory, f"{directory}/manifest.json")


@rule(desc="Package a unikernel image", level=LogLevel.DEBUG)
async def package_unikernel_image(field_set: UnikernelImageFieldSet) -> BuiltPackage:
    bundle = await Get(UnikernelBundle, UnikernelImageFieldSet, field_set)
    snapshot = await Get(Snapshot, Digest, bundle.digest)
    return BuiltPackage(
        snapshot.digest,
        artifacts=tuple(
            BuiltPackageArtifact(path, extra_log_lines=())
            for path in snapshot.files
        ),
    )


def rules():
    return (
        *collect_rules(),
        UnionRule(PackageFieldSet, UnikernelImageFieldSet),
    )
