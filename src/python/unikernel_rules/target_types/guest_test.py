from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException

from unikernel_rules.target_types.guest import (
    GuestUser,
    GuestVolume,
    UnikernelHostnameField,
    UnikernelNetworkField,
    UnikernelTimezoneField,
    UnikernelUserField,
    UnikernelVolumesField,
    UnikernelWritablePathsField,
    default_hostname,
    overlaps,
    parse_size_mib,
)

ADDR = Address("testprojects/x", target_name="image")


def test_default_hostname_is_a_dns_label() -> None:
    assert default_hostname(ADDR) == "image"
    assert default_hostname(Address("a", target_name="My_App.v2")) == "my-app-v2"
    assert default_hostname(Address("a", target_name="___")) == "unikernel"
    assert UnikernelHostnameField(None, ADDR).parse(ADDR) == "image"
    with pytest.raises(InvalidFieldException, match="not a host\\s+name"):
        UnikernelHostnameField("Bad_Name", ADDR).parse(ADDR)


@pytest.mark.parametrize(
    "raw, user",
    [
        (None, GuestUser("app", 1000, 1000)),
        ("www", GuestUser("www", 1000, 1000)),
        ("root", GuestUser("root", 0, 0)),
        ("0", GuestUser("root", 0, 0)),
        ("33:34", GuestUser("app", 33, 34)),
        ("42", GuestUser("app", 42, 42)),
    ],
)
def test_user_values(raw, user) -> None:
    assert UnikernelUserField(raw, ADDR).parse(ADDR) == user


@pytest.mark.parametrize("raw", ["Root!", "1:2:3", "-1", "a b", "99999999999"])
def test_unknown_user_is_an_error_naming_the_field(raw) -> None:
    field = UnikernelUserField(raw, ADDR)  # reading the BUILD file never fails
    with pytest.raises(InvalidFieldException, match=r"The `user` field of testprojects/x:image"):
        field.parse(ADDR)


def test_network_modes() -> None:
    assert UnikernelNetworkField(None, ADDR).parse(ADDR) == "isolated"
    assert UnikernelNetworkField("outbound", ADDR).parse(ADDR) == "outbound"
    with pytest.raises(InvalidFieldException, match="not a network\\s+mode.*'isolated', 'outbound'"):
        UnikernelNetworkField("bridge", ADDR).parse(ADDR)


def test_sizes() -> None:
    assert parse_size_mib("256MiB") == 256
    assert parse_size_mib("1G") == 1024
    assert parse_size_mib("2 GiB") == 2048
    assert parse_size_mib("64") == 64
    assert parse_size_mib("1T") == 1024 * 1024
    assert parse_size_mib("lots") is None
    assert parse_size_mib("1.5G") is None


def test_volumes_are_sorted_with_serials() -> None:
    field = UnikernelVolumesField({"/var/lib/b": "1G", "/data": "64MiB"}, ADDR)
    assert field.parse(ADDR) == (
        GuestVolume("/data", 64, "vol0"),
        GuestVolume("/var/lib/b", 1024, "vol1"),
    )


@pytest.mark.parametrize(
    "volumes, message",
    [
        ({"data": "64M"}, "not an absolute"),
        ({"/var/lib/../x": "64M"}, "not an absolute"),
        ({"/": "64M"}, "is the root"),
        ({"/proc/x": "64M"}, "overlaps /proc"),
        ({"/tmp": "64M"}, "overlaps /tmp"),
        ({"/data": "64M", "/data/sub": "64M"}, "overlaps the volume"),
        ({"/data": "lots"}, "not a size"),
        ({"/data": "1M"}, "not a size between 8 MiB"),
    ],
)
def test_bad_volumes(volumes, message) -> None:
    field = UnikernelVolumesField(volumes, ADDR)
    with pytest.raises(InvalidFieldException, match=message):
        field.parse(ADDR)


def test_writable_paths() -> None:
    assert UnikernelWritablePathsField(["/var/cache", "/"], ADDR).parse(ADDR) == ("/", "/var/cache")
    with pytest.raises(InvalidFieldException, match="writable paths must"):
        UnikernelWritablePathsField(["var"], ADDR).parse(ADDR)
    with pytest.raises(InvalidFieldException, match="writable paths must"):
        UnikernelWritablePathsField(["/proc/sys"], ADDR).parse(ADDR)


def test_timezone() -> None:
    assert UnikernelTimezoneField("Europe/Paris", ADDR).parse(ADDR) == "Europe/Paris"
    with pytest.raises(InvalidFieldException, match="not a time"):
        UnikernelTimezoneField("../../etc/passwd", ADDR).parse(ADDR)


def test_overlaps() -> None:
    assert overlaps("/a", "/a/b") and overlaps("/a/b", "/a") and overlaps("/a", "/a")
    assert not overlaps("/a", "/ab")
    assert overlaps("/", "/x")
