"""The `formats` field of `unikernel_image`: which artifacts `pants package` writes."""

from __future__ import annotations

from typing import Iterable, Optional, Tuple

from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException, StringSequenceField
from pants.util.strutil import softwrap

from unikernel_rules.formats.names import DEFAULT_FORMATS, DISK_FORMATS, FORMAT_NAMES

_FORMAT_LINES = "; ".join(
    [
        "`bundle`, the direct-boot files (`kernel`, `initrd`, `cmdline`, `rootfs.img`) for QEMU's"
        " `-kernel`, Firecracker-style VMMs and cloud-hypervisor",
        *(f"`{f.name}`, `{f.file}` ({f.summary})" for f in DISK_FORMATS),
        "`container`, `container.tar`: the root tree (app, runtime and /etc, without kernel and"
        " init) as an OCI image layout that is also a `docker load` archive, for Docker, podman,"
        " skopeo and Kubernetes",
    ]
)


class UnikernelFormatsField(StringSequenceField):
    alias = "formats"
    default = DEFAULT_FORMATS
    help = softwrap(
        f"""
        What `pants package` writes into the image's output directory, beside `manifest.json`:
        {_FORMAT_LINES}.

        Every disk format is bootable through firmware, BIOS (syslinux) and UEFI (a Unified
        Kernel Image at `EFI/BOOT/BOOTX64.EFI`) alike: a GPT disk whose EFI system partition
        holds the kernel, initramfs and command line, and (with a disk root, see `root`) the
        squashfs root filesystem as a second partition, found by init through its partition
        GUID. The kernel of an image with disk formats also gets the builtin `efi` fragment
        (ACPI, EFI stub). Each format is its own cached process over the raw disk; all are
        reproducible. `pants run` boots the bundle if it is listed, else the first disk
        format, or the one `--unikernel-run-format` names (docs/formats.md);
        `--unikernel-run-format=container` runs the container in a local Docker engine
        (docs/containers.md).
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address) -> Optional[Tuple[str, ...]]:
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        unknown = [f for f in value if f not in FORMAT_NAMES]
        if unknown:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{cls.alias}` field of {address} lists {', '.join(repr(f) for f in unknown)},
                    which is not a format this plugin writes. Use any of:
                    {', '.join(FORMAT_NAMES)} (e.g. `formats=["bundle", "qcow2"]`).
                    """
                )
            )
        if not value:
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is empty: list at least one format "
                f"(the default is {list(DEFAULT_FORMATS)})."
            )
        duplicates = sorted({f for f in value if value.count(f) > 1})
        if duplicates:
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} lists {', '.join(duplicates)} more than "
                "once: list each format once."
            )
        return value
