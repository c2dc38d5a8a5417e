from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException, InvalidTargetException

from unikernel_rules.target_types import (
    JavaJarCoordinateField,
    JavaJarFileField,
    JavaJarSha256Field,
    JavaJarTarget,
    JavaMainClassField,
    UnikernelCpusField,
    UnikernelMemoryField,
    UnikernelPortsField,
    parse_port_mapping,
)

ADDR = Address("testprojects/x", target_name="image")


@pytest.mark.parametrize(
    "raw, mib", [(64, 64), ("64", 64), ("64M", 64), ("64 MiB", 64), ("1G", 1024), ("2gib", 2048)]
)
def test_memory_units(raw, mib) -> None:
    field = UnikernelMemoryField(raw, ADDR)
    assert field.mib(ADDR) == mib


@pytest.mark.parametrize("raw", ["lots", "64K", "-1", "1.5G", "3T"])
def test_memory_rejects_non_sizes(raw) -> None:
    field = UnikernelMemoryField(raw, ADDR)  # reading the BUILD file never fails ...
    with pytest.raises(InvalidFieldException, match="not a memory size"):
        field.mib(ADDR)  # ... building the image does


def test_memory_bounds() -> None:
    with pytest.raises(InvalidFieldException, match="asks for 2 MiB"):
        UnikernelMemoryField(2, ADDR).mib(ADDR)


@pytest.mark.parametrize("spec, expected", [("8080", (8080, 8080)), ("18080:80", (18080, 80)), ("22/tcp", (22, 22))])
def test_port_mappings(spec, expected) -> None:
    assert parse_port_mapping(spec, ADDR) == expected


@pytest.mark.parametrize("spec", ["http", "0", "70000", "1:2:3", "8080:0", "80/udp", ""])
def test_bad_ports(spec) -> None:
    with pytest.raises(InvalidFieldException, match="not a TCP port"):
        parse_port_mapping(spec, ADDR)


def test_ports_field_accepts_ints_and_rejects_duplicates() -> None:
    assert UnikernelPortsField([8080, "9090:90"], ADDR).mappings(ADDR) == ((8080, 8080), (9090, 90))
    with pytest.raises(InvalidFieldException, match="twice"):
        UnikernelPortsField(["8080", "8080:81"], ADDR).mappings(ADDR)


def test_cpus_bounds() -> None:
    assert UnikernelCpusField(2, ADDR).parse(ADDR) == 2
    with pytest.raises(InvalidFieldException, match="between 1 and 64"):
        UnikernelCpusField(0, ADDR).parse(ADDR)


def test_java_fields_reject_bad_values() -> None:
    with pytest.raises(InvalidFieldException, match="not a Java class name"):
        JavaMainClassField("src/example/Main.java", ADDR)
    assert JavaMainClassField("example.Main$Inner", ADDR).value == "example.Main$Inner"
    with pytest.raises(InvalidFieldException, match="group:artifact:version"):
        JavaJarCoordinateField("jackson-core-2.17.2.jar", ADDR)
    with pytest.raises(InvalidFieldException, match="64 lowercase hex digits"):
        JavaJarSha256Field("ABC", ADDR)
    for bad in ("libs/gson.zip", "/abs/gson.jar", "../outside/gson.jar"):
        with pytest.raises(InvalidFieldException, match="relative to the BUILD file"):
            JavaJarFileField(bad, ADDR)


def test_java_jar_needs_exactly_one_of_jar_and_coordinate() -> None:
    sha = "0" * 64
    with pytest.raises(InvalidTargetException, match="exactly one of `jar`"):
        JavaJarTarget({"sha256": sha}, ADDR)
    with pytest.raises(InvalidTargetException, match="exactly one of `jar`"):
        JavaJarTarget({"sha256": sha, "jar": "a.jar", "coordinate": "g:a:1"}, ADDR)
    JavaJarTarget({"sha256": sha, "coordinate": "g:a:1"}, ADDR)
