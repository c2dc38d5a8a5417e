from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException

from unikernel_rules.formats.names import DEFAULT_FORMATS, FORMAT_NAMES, disk_formats
from unikernel_rules.target_types import UnikernelFormatsField

ADDR = Address("testprojects/x", target_name="image")


def test_default_is_the_bundle() -> None:
    assert UnikernelFormatsField(None, ADDR).value == DEFAULT_FORMATS == ("bundle",)


def test_every_format_is_accepted_in_the_order_given() -> None:
    value = UnikernelFormatsField(["gce", "bundle", "qcow2", "container", "raw", "vmdk", "vhd"], ADDR).value
    assert value == ("gce", "bundle", "qcow2", "container", "raw", "vmdk", "vhd")
    assert set(value) == set(FORMAT_NAMES)
    assert [f.name for f in disk_formats(value)] == ["gce", "qcow2", "raw", "vmdk", "vhd"]


def test_unknown_format_names_the_target_field_and_choices() -> None:
    with pytest.raises(InvalidFieldException) as e:
        UnikernelFormatsField(["bundle", "iso9660", "ova"], ADDR)
    message = str(e.value)
    assert "`formats` field of testprojects/x:image" in message
    assert "'iso9660', 'ova'" in message
    assert "bundle, raw, qcow2, vmdk, vhd, gce, container" in message


def test_empty_and_duplicate_formats_are_errors() -> None:
    with pytest.raises(InvalidFieldException, match="is empty"):
        UnikernelFormatsField([], ADDR)
    with pytest.raises(InvalidFieldException, match="lists qcow2 more than once"):
        UnikernelFormatsField(["qcow2", "bundle", "qcow2"], ADDR)
