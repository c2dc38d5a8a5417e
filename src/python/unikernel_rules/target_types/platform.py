"""The `platform` field of `unikernel_image`: where the image runs (kernel drivers, formats)."""

from __future__ import annotations

from pants.engine.target import StringField
from pants.util.strutil import softwrap

from unikernel_rules.platforms.names import PLATFORM_NAMES, PLATFORMS, QEMU

_PLATFORM_LINES = "; ".join(
    f"`{p.name}`: {p.summary} ({p.drivers}; boots {', '.join(p.formats)})" for p in PLATFORMS
)


class UnikernelPlatformField(StringField):
    alias = "platform"
    default = QEMU
    valid_choices = PLATFORM_NAMES
    help = softwrap(
        f"""
        Where the image runs: {_PLATFORM_LINES}.

        Every platform but `qemu` gets a kernel of its own, the image's kernel plus the builtin
        fragment `platform-<name>` (its disk and network drivers, and DHCP) and the `disk` and
        `efi` fragments: one cached kernel per platform, shared by all its images, never rebuilt
        by an app change. On those platforms the guest takes its address from DHCP (`ip=dhcp`)
        and init finds its root partition on whichever disk the platform attaches. `formats`
        must list a disk format the platform boots, and only those (besides `bundle`);
        `volumes` need `qemu` (they are virtio-blk disks). `pants run` boots the image under
        QEMU with the platform's own devices where QEMU emulates them (virtio-scsi, NVMe,
        PVSCSI, VMXNET3, AHCI, e1000), virtio stand-ins where it cannot (Hyper-V's, ENA);
        docs/platforms.md.
        """
    )
