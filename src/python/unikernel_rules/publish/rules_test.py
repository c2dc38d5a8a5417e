from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException

from unikernel_rules.publish.rules import Registry, resolve_registries
from unikernel_rules.target_types import UnikernelImageTagsField, UnikernelRegistriesField, UnikernelRepositoryField
from unikernel_rules.target_types.publish import default_repository

ADDR = Address("testprojects/c/hello_http", target_name="image")


def test_addresses_and_aliases() -> None:
    aliases = {"ci": {"address": "127.0.0.1:5000"}, "prod": {"address": "registry.example.com", "insecure": False}}
    assert resolve_registries(ADDR, ["@ci", "@prod", "localhost:5001", "r.example.com:443"], aliases) == (
        Registry("@ci", "127.0.0.1:5000", True),  # loopback: plain HTTP, as Docker allows
        Registry("@prod", "registry.example.com", False),
        Registry("localhost:5001", "localhost:5001", True),
        Registry("r.example.com:443", "r.example.com:443", False),
    )


def test_unknown_alias_and_bad_alias_address() -> None:
    with pytest.raises(InvalidFieldException, match=r"alias @nope, which `\[unikernel-publish\].registries` does not define \(known: @ci\)"):
        resolve_registries(ADDR, ["@nope"], {"ci": {"address": "a"}})
    with pytest.raises(InvalidFieldException, match="the address 'https://x'"):
        resolve_registries(ADDR, ["@ci"], {"ci": {"address": "https://x"}})


def test_field_validation() -> None:
    assert UnikernelRegistriesField(["@ci", "r.example.com:5000"], ADDR).value == ("@ci", "r.example.com:5000")
    for bad in ("https://r.example.com", "r.example.com/path", "@"):
        with pytest.raises(InvalidFieldException, match="`registries` field of testprojects/c/hello_http:image"):
            UnikernelRegistriesField([bad], ADDR)
    assert UnikernelRepositoryField("apps/hello-http", ADDR).value == "apps/hello-http"
    for bad in ("Apps", "apps//x", "-x", "a/"):
        with pytest.raises(InvalidFieldException, match="not a valid repository name"):
            UnikernelRepositoryField(bad, ADDR)
    assert UnikernelImageTagsField(None, ADDR).value == ("latest",)
    for bad in ([".x"], ["a" * 120], ["a b"]):
        with pytest.raises(InvalidFieldException, match="a tag is letters"):
            UnikernelImageTagsField(bad, ADDR)
    with pytest.raises(InvalidFieldException, match="is empty"):
        UnikernelImageTagsField([], ADDR)
    assert default_repository(ADDR) == "testprojects/c/hello_http/image"
    assert default_repository(Address("A/B_c", target_name="Img")) == "a/b_c/img"
