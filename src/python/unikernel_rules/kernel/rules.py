"""Fetch pinned Linux source and build a minimal kernel in one cached, reproducible process."""

from __future__ import annotations

import importlib.resources
import logging
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from pants.engine.addresses import Address
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    DigestSubset,
    FileContent,
    MergeDigests,
    AddPrefix,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    FieldSet,
    HydratedSources,
    HydrateSourcesRequest,
    InvalidFieldException,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.debian.lock import LockedDebianPackage, closure, upstream_version
from unikernel_rules.kernel.fragment_lines import drop_superseded, overridden_hints
from unikernel_rules.debian.rules import (
    DebianDownloadRequest,
    DebianLock,
    DebianLockRequest,
    DownloadedDeb,
)
from unikernel_rules.kernel.toolchain import (
    BUILD_DIR,
    SANDBOX_ENV,
    TREE_DIR,
    SANDBOX_ERROR_PREFIX,
    SANDBOX_FAILURE_EXIT,
    KernelToolchain,
    KernelToolchainError,
    KernelToolchainRequest,
    find_missing_tools,
    kconfig_tool_hints,
    missing_tools_message,
    sandbox_argv,
)
from unikernel_rules.kernel.toolchain import rules as toolchain_rules
from unikernel_rules.target_types import (
    KernelFragmentsField,
    KernelIncludeBuiltinFragmentsField,
    KernelSourcePackageField,
    KernelToolchainPackagesField,
    UnikernelKernelTarget,
)

logger = logging.getLogger(__name__)

# Added to the builtin fragments of the kernel of an image with a disk root.
DISK_FRAGMENT = "disk"
# Added to the builtin fragments of the kernel of an image that builds bootable disks (or has a
# disk root: see KernelRequest.efi).
EFI_FRAGMENT = "efi"
# The build's own files (script, source .deb, fragments) in the Process sandbox: /build in the tree.
BUILD_TREE_DIR = f"{TREE_DIR}/{BUILD_DIR}"

# Kbuild embeds these in the kernel; pinned so that every build is byte-identical.
REPRODUCIBLE_KBUILD_ENV = {
    "KBUILD_BUILD_TIMESTAMP": "1970-01-01 00:00:00 UTC",
    "KBUILD_BUILD_USER": "unikernel",
    "KBUILD_BUILD_HOST": "unikernel-rules",
    "KBUILD_BUILD_VERSION": "1",
    "SOURCE_DATE_EPOCH": "0",
}


@dataclass(frozen=True)
class KernelFieldSet(FieldSet):
    required_fields = (KernelSourcePackageField,)

    source_package: KernelSourcePackageField
    fragments: KernelFragmentsField
    builtin_fragments: KernelIncludeBuiltinFragmentsField
    toolchain_packages: KernelToolchainPackagesField


@dataclass(frozen=True)
class KernelRequest:
    """Build the kernel of the `unikernel_kernel` target at `address`, for `requester`'s sake.

    `disk_root`: the requesting image boots from a disk root, so the kernel also gets the
    builtin `disk` fragment (squashfs, overlayfs, ...). Images without one keep the smaller
    kernel: the fragment's ~120 KB of code would cost them 2 MiB of memory floor (the kernel's
    text is 2 MiB-aligned). Each variant is its own cached build.

    `platform_fragment`: the builtin fragment of the image's `platform` (`platform-gce`, ...),
    applied last: the platform's storage and network drivers. A platform's images all ask for
    disk_root and efi too, so each platform has exactly one kernel.

    `efi`: the image builds bootable disks (`formats`), so the kernel also gets the builtin `efi`
    fragment (ACPI, EFI, the EFI stub that UEFI firmware starts). The rules ask for it with every
    disk root too, so that all disk-root images share one kernel whether or not they build disks.
    """

    address: Address
    requester: Address
    disk_root: bool = False
    efi: bool = False
    platform_fragment: Optional[str] = None


@dataclass(frozen=True)
class BuiltKernel:
    address: Address
    kernel: Digest  # holds the single file `kernel` (bzImage)
    config: Digest  # holds the single file `config`
    release: str
    version: str
    # The fragments applied, in order: "builtin:<name>" and the user's paths.
    fragments: Tuple[str, ...] = ()
    # The locked Debian package of the source (for the image's SBOM).
    source_package: Optional[LockedDebianPackage] = None


class KernelBuildError(Exception):
    pass


def builtin_fragment(name: str) -> bytes:
    return importlib.resources.read_binary("unikernel_rules.kernel.fragments", f"{name}.config")


def _literal_paths(spec_path: str, globs) -> Tuple[str, ...]:
    return tuple(
        os.path.join(spec_path, g)
        for g in globs
        if not g.startswith("!") and not any(c in g for c in "*?[")
    )


@rule(desc="Build a Linux kernel", level=LogLevel.DEBUG)
async def build_kernel(
    request: KernelRequest,
) -> BuiltKernel:
    wrapped = await Get(
        WrappedTarget,
        WrappedTargetRequest(request.address, description_of_origin=f"the `kernel` of {request.requester}"),
    )
    target = wrapped.target
    if not target.has_field(KernelSourcePackageField):
        raise InvalidFieldException(
            softwrap(
                f"""
                The `kernel` of {request.requester} is {request.address}, which is a
                `{target.alias}` target, not a `{UnikernelKernelTarget.alias}`. Point `kernel` at a
                `{UnikernelKernelTarget.alias}` target (or leave it unset to use
                `[unikernel].default_kernel`).
                """
            )
        )
    fs = KernelFieldSet.create(target)
    # The source is one locked Debian package (not its closure); the toolchain is another tree.
    origin = f"the kernel source of {fs.address} (field `source_package`)"
    lock = await Get(DebianLock, DebianLockRequest())
    package = lock.get(fs.source_package.value) or closure(lock, [fs.source_package.value], origin)[0]
    deb = await Get(DownloadedDeb, DebianDownloadRequest(package, origin))
    source = deb.digest
    source_name = deb.path
    version = upstream_version(package.version)

    # Fragments: the plugin's first, then the user's in the order they are listed.
    builtin_names = list(fs.builtin_fragments.value or ())
    if request.disk_root and DISK_FRAGMENT not in builtin_names:
        builtin_names.append(DISK_FRAGMENT)
    if request.efi and EFI_FRAGMENT not in builtin_names:
        builtin_names.append(EFI_FRAGMENT)
    if request.platform_fragment and request.platform_fragment not in builtin_names:
        builtin_names.append(request.platform_fragment)
    # A later builtin fragment (a platform's) may turn on what an earlier one turns off.
    fragment_contents = [
        FileContent(f"fragments/builtin/{name}.config", text)
        for name, text in drop_superseded([(name, builtin_fragment(name)) for name in builtin_names])
    ]
    user_fragments = await Get(HydratedSources, HydrateSourcesRequest(fs.fragments))
    user_files = user_fragments.snapshot.files
    # Files named literally keep the order they are listed in; glob matches follow, sorted.
    listed = _literal_paths(fs.address.spec_path, fs.fragments.value or ())
    missing = [p for p in listed if p not in user_files]
    if missing:
        raise InvalidFieldException(
            softwrap(
                f"""
                The `fragments` field of {fs.address} lists {', '.join(missing)}, which does not
                exist. Create the file or remove it from `fragments`.
                """
            )
        )
    ordered_user_files = [*listed, *(f for f in user_files if f not in listed)]
    user_contents = await Get(DigestContents, Digest, user_fragments.snapshot.digest)
    by_path = {fc.path: fc.content for fc in user_contents}
    fragment_contents += [
        FileContent(f"fragments/user/{i:02d}.config", by_path[p])
        for i, p in enumerate(ordered_user_files)
    ]
    labels = [f"builtin:{name}" for name in builtin_names] + ordered_user_files
    script = importlib.resources.read_binary("unikernel_rules.kernel", "build_kernel.sh")
    inputs, toolchain = await MultiGet(
        Get(
            Digest,
            CreateDigest([FileContent("build_kernel.sh", script, is_executable=True), *fragment_contents]),
        ),
        Get(
            KernelToolchain,
            KernelToolchainRequest(
                tuple(fs.toolchain_packages.value or ()),
                f"the kernel build of {fs.address}",
            ),
        ),
    )
    # The build runs chrooted into the toolchain tree (`tree/`): its own files go to /build.
    build_files = await Get(Digest, MergeDigests([inputs, source]))
    build_inputs = await Get(Digest, AddPrefix(build_files, BUILD_TREE_DIR))
    input_digest = await Get(Digest, MergeDigests([build_inputs, toolchain.tree, toolchain.helper]))

    env = {**SANDBOX_ENV, **REPRODUCIBLE_KBUILD_ENV}
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=sandbox_argv(
                env,
                f"/{BUILD_DIR}",
                (
                    "/bin/bash",
                    f"/{BUILD_DIR}/build_kernel.sh",
                    source_name,
                    "{pants_concurrency}",
                    *(f"{label}={fc.path}" for label, fc in zip(labels, fragment_contents)),
                ),
            ),
            description=f"Building the Linux {version} kernel of {fs.address} (several minutes, cached)",
            input_digest=input_digest,
            output_directories=(f"{BUILD_TREE_DIR}/out",),
            # Nothing of the host: the helper gives the build exactly SANDBOX_ENV + Kbuild's pins.
            env={"PATH": SANDBOX_ENV["PATH"]},
            concurrency_available=8,
            level=LogLevel.INFO,
        ),
    )
    if result.exit_code == SANDBOX_FAILURE_EXIT and SANDBOX_ERROR_PREFIX.encode() in result.stderr:
        problem = [
            line.split(" ", 1)[1]
            for line in result.stderr.decode(errors="replace").splitlines()
            if line.startswith(SANDBOX_ERROR_PREFIX)
        ]
        raise KernelToolchainError(
            f"The kernel build of {fs.address} could not enter its toolchain sandbox: "
            f"{'; '.join(problem)}. The kernel is compiled chrooted into a tree of locked Debian "
            "packages inside a user namespace; this machine (or remote-execution worker) must "
            "allow user namespaces (docs/remote-cache.md)."
        )
    if result.exit_code == 3:
        problems = [
            line.split(" ", 1)[1]
            for line in result.stdout.decode(errors="replace").splitlines()
            if line.startswith("UNIKERNEL_CONFIG_ERROR ")
        ]
        hints = kconfig_tool_hints(problems, str(fs.address)) + overridden_hints(
            problems, [(label, fc.content.decode(errors="replace")) for label, fc in zip(labels, fragment_contents)]
        )
        raise KernelBuildError(
            f"The kernel config of {fs.address} cannot be built as asked:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "".join(f"\n{h}" for h in hints)
        )
    if result.exit_code != 0:
        output = result.stderr.decode(errors="replace") + result.stdout.decode(errors="replace")
        tail = "\n".join(output.strip().splitlines()[-60:])
        missing_tools = find_missing_tools(output)
        if missing_tools:
            raise KernelToolchainError(
                missing_tools_message(missing_tools, str(fs.address))
                + f"\n\nThe build's last lines (exit code {result.exit_code}):\n{tail}"
            )
        raise KernelBuildError(
            f"Building the kernel of {fs.address} failed (exit code {result.exit_code}):\n{tail}"
        )

    out = await Get(Digest, RemovePrefix(result.output_digest, f"{BUILD_TREE_DIR}/out"))
    kernel, config, release_digest = await MultiGet(
        Get(Digest, DigestSubset(out, PathGlobs(["kernel"]))),
        Get(Digest, DigestSubset(out, PathGlobs(["config"]))),
        Get(Digest, DigestSubset(out, PathGlobs(["release"]))),
    )
    release = await Get(DigestContents, Digest, release_digest)
    return BuiltKernel(
        address=fs.address,
        kernel=kernel,
        config=config,
        release=release[0].content.decode().strip(),
        version=version,
        fragments=tuple(labels),
        source_package=package,
    )


def rules():
    return [*collect_rules(), *toolchain_rules()]
