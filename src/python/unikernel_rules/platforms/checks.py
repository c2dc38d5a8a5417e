"""What an image's `platform` asks of its other fields, and of its kernel (no rules: pure)."""

from __future__ import annotations

from typing import Sequence, Tuple

from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException
from pants.util.strutil import softwrap

from unikernel_rules.formats.names import BUNDLE, CONTAINER
from unikernel_rules.platforms.names import PLATFORM_NAMES, PLATFORMS_BY_NAME, QEMU, Platform


def image_platform(address: Address, name: str) -> Platform:
    platform = PLATFORMS_BY_NAME.get(name)
    if platform is None:  # the field's valid_choices already say so; kept for direct callers
        raise InvalidFieldException(
            f"The `platform` field of {address} is {name!r}; use one of {', '.join(PLATFORM_NAMES)}."
        )
    return platform


def check_platform(address: Address, platform: Platform, formats: Sequence[str], volumes: int) -> None:
    """A clear error when `formats` or `volumes` do not fit `platform`."""
    if platform.name == QEMU:
        return
    # The bundle (QEMU direct boot) and the container (no kernel) go with every platform.
    listed = [f for f in formats if f not in (BUNDLE, CONTAINER)]
    wrong = [f for f in listed if f not in platform.formats]
    boots = ", ".join(f'"{f}"' for f in platform.formats)
    if wrong:
        raise InvalidFieldException(
            softwrap(
                f"""
                The `formats` field of {address} lists {', '.join(repr(f) for f in wrong)}, which
                {platform.summary} (`platform="{platform.name}"`) cannot boot: it boots
                {boots}. List those instead (e.g. `formats=["bundle", "{platform.formats[0]}"]`),
                or set `platform="qemu"` for the other formats.
                """
            )
        )
    if not listed:
        raise InvalidFieldException(
            softwrap(
                f"""
                {address} has `platform="{platform.name}"` but `formats` lists no disk:
                {platform.summary} boots a disk image ({boots}), not the direct-boot bundle. Add
                one, e.g. `formats=["bundle", "{platform.formats[0]}"]` (the bundle stays
                bootable with `pants run`).
                """
            )
        )
    if volumes:
        raise InvalidFieldException(
            softwrap(
                f"""
                {address} has `volumes`, which are virtio-blk disks that `pants run` attaches,
                and `platform="{platform.name}"`, whose kernel boots from {platform.summary}'s
                own disks. Remove `volumes`, or use `platform="qemu"`.
                """
            )
        )


def platform_kernel_params(platform: Platform, network: str) -> Tuple[str, ...]:
    """Kernel parameters the platform adds: DHCP through the kernel's IP autoconfiguration."""
    if platform.address == "dhcp" and network != "none":
        return ("ip=dhcp",)
    return ()
