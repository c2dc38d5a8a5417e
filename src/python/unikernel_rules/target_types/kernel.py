"""The `unikernel_kernel` target and its fields."""

from __future__ import annotations


from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    MultipleSourcesField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import softwrap

from unikernel_rules.platforms.names import PLATFORMS

PLATFORM_FRAGMENTS = tuple(p.fragment for p in PLATFORMS if p.fragment)


class KernelSourcePackageField(StringField):
    alias = "source_package"
    default = "linux-source-6.1"
    help = softwrap(
        """
        The Debian `linux-source-X.Y` package that holds the kernel's source, as locked in the
        Debian package lock (`3rdparty/debian/debian.lock`, see `[debian-lock]`). Its `.deb` is
        downloaded from `[debian-archive].mirror` and checked against the lock's sha256 and size;
        the kernel version (recorded in manifests) is the upstream part of its Debian version.
        To use another kernel series, add its package to `[debian-lock].packages`, run
        `pants generate-lockfiles --resolve=debian`, and name it here.
        """
    )


class KernelFragmentsField(MultipleSourcesField):
    alias = "fragments"
    expected_file_extensions = (".config",)
    help = softwrap(
        """
        Your Kconfig fragments (`*.config` files with lines like `CONFIG_FOO=y` or
        `# CONFIG_FOO is not set`), applied in order after `tinyconfig` and the plugin's own
        fragments. An option that does not exist, or that Kconfig cannot set because its
        dependencies are missing, fails the build with the file and line. An image whose
        kernel has fragments cannot run as a container (`--unikernel-run-format=container`):
        the host's kernel may lack what they enable.
        """
    )


class KernelIncludeBuiltinFragmentsField(StringSequenceField):
    alias = "builtin_fragments"
    default = ("base", "virtio", "net")
    valid_choices = ("base", "virtio", "net", "disk", "efi", *PLATFORM_FRAGMENTS)
    help = softwrap(
        """
        Which of the plugin's fragments to apply: `base` (64-bit, serial console, initramfs,
        devtmpfs, proc/sys/tmpfs, futex/epoll/eventfd/timerfd/signalfd, PVH boot), `virtio`
        (virtio-pci, virtio-mmio, virtio-blk, virtio-rng) and `net` (unix and IPv4 sockets,
        virtio-net, kernel IP autoconfiguration). `disk` (squashfs and overlayfs for a disk root,
        plus the file locking, madvise and rseq syscalls that glibc runtimes use) is added
        automatically for images with a disk root (`root="disk"`, or a runtime that asks for
        one); list it here to put it in every image's kernel. `efi` (ACPI, EFI and the EFI stub
        that UEFI firmware starts) is added automatically for images that build bootable disks
        (`formats`) and for images with a disk root (so that those share one kernel).
        `platform-gce`, `platform-aws`, `platform-azure`, `platform-vmware` and
        `platform-virtualbox` (each platform's disk and network drivers, and DHCP) are added
        for images with that `platform`.
        """
    )


class KernelToolchainPackagesField(StringSequenceField):
    alias = "toolchain_packages"
    default = ()
    help = softwrap(
        """
        Extra Debian packages for the kernel's build toolchain, e.g. `["dwarves"]` (pahole) for
        `CONFIG_DEBUG_INFO_BTF` or `["openssl", "libssl-dev"]` for module signing. The kernel
        is compiled inside a tree of locked Debian packages only (gcc-12, binutils, make, ...,
        see `unikernel_rules/kernel/toolchain_packages.py`); these are added to it with their
        dependencies. Each must be in the Debian lock: add it to `[debian-lock].packages`
        (`packages.add = [...]`) and run `pants generate-lockfiles --resolve=debian`.
        """
    )


class UnikernelKernelTarget(Target):
    alias = "unikernel_kernel"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        KernelSourcePackageField,
        KernelFragmentsField,
        KernelIncludeBuiltinFragmentsField,
        KernelToolchainPackagesField,
    )
    help = softwrap(
        """
        A minimal Linux kernel built from locked source (Debian's `linux-source-X.Y`):
        `tinyconfig` plus the plugin's fragments plus yours. The build is one cached process
        that runs chrooted into a tree of locked Debian packages (gcc-12, binutils, make, ...),
        reading nothing from the host; it is keyed by the sha256s of the source and the
        toolchain packages, the fragments and the build script, and it is reproducible
        (KBUILD_BUILD_TIMESTAMP/USER/HOST/VERSION pinned).
        """
    )
