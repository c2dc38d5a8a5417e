from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException

from unikernel_rules.platforms.checks import check_platform, image_platform, platform_kernel_params
from unikernel_rules.platforms.names import (
    BUNDLE_ROOT_DEVICES, PLATFORMS, PLATFORMS_BY_NAME, QEMU_DISK_MODELS, QEMU_NIC_MODELS,
)

ADDRESS = Address("app", target_name="image")


def test_every_platform_is_consistent() -> None:
    for p in PLATFORMS:
        assert p.qemu_disk in QEMU_DISK_MODELS and p.qemu_nic in QEMU_NIC_MODELS
        assert p.formats and (p.fragment is None) == (p.name == "qemu")
        assert p.address in ("static", "dhcp")
        assert p.bundle_root_device.startswith("/dev/")
    assert PLATFORMS_BY_NAME["qemu"].bundle_root_device == "/dev/vda"
    assert set(BUNDLE_ROOT_DEVICES) == set(QEMU_DISK_MODELS)


def test_qemu_takes_any_format_and_volumes() -> None:
    check_platform(ADDRESS, PLATFORMS_BY_NAME["qemu"], ["bundle"], volumes=2)
    check_platform(ADDRESS, PLATFORMS_BY_NAME["qemu"], ["raw", "vmdk", "gce"], volumes=0)


def test_a_format_the_platform_cannot_boot() -> None:
    with pytest.raises(InvalidFieldException) as e:
        check_platform(ADDRESS, PLATFORMS_BY_NAME["azure"], ["bundle", "vhd", "qcow2"], volumes=0)
    text = str(e.value)
    assert "app:image" in text and "'qcow2'" in text and '"vhd"' in text and "`formats`" in text


def test_a_cloud_platform_needs_a_disk() -> None:
    with pytest.raises(InvalidFieldException) as e:
        check_platform(ADDRESS, PLATFORMS_BY_NAME["gce"], ["bundle"], volumes=0)
    assert 'formats=["bundle", "gce"]' in str(e.value)


def test_volumes_need_qemu() -> None:
    with pytest.raises(InvalidFieldException) as e:
        check_platform(ADDRESS, PLATFORMS_BY_NAME["vmware"], ["vmdk"], volumes=1)
    assert "`volumes`" in str(e.value) and 'platform="qemu"' in str(e.value)


def test_unknown_platform() -> None:
    with pytest.raises(InvalidFieldException) as e:
        image_platform(ADDRESS, "xen")
    assert "virtualbox" in str(e.value)


def test_dhcp_on_clouds_only_with_a_network() -> None:
    assert platform_kernel_params(PLATFORMS_BY_NAME["qemu"], "isolated") == ()
    assert platform_kernel_params(PLATFORMS_BY_NAME["aws"], "isolated") == ("ip=dhcp",)
    assert platform_kernel_params(PLATFORMS_BY_NAME["aws"], "none") == ()
