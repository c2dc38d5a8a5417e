"""The publish fields of `unikernel_image` (`pants publish`), named as Pants' `docker_image`
names them: `registries`, `repository`, `image_tags`, `skip_push` (`tags` is Pants' own field
of every target)."""

from __future__ import annotations

import re
from typing import Iterable, Optional, Tuple

from pants.engine.addresses import Address
from pants.engine.target import BoolField, InvalidFieldException, StringField, StringSequenceField
from pants.util.strutil import softwrap

# The OCI distribution spec's grammar of a repository name and of a tag.
REPOSITORY_RE = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# A registry given directly: host, host:port (a DNS name or IPv4 address).
ADDRESS_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?")
# What each published reference's tag gets after the image's tag (docs/publish.md).
CONTAINER_TAG_SUFFIX = "-container"
CONTAINERDISK_TAG_SUFFIX = "-containerdisk"


def default_repository(address: Address) -> str:
    """`testprojects/c/hello_http:image` -> `testprojects/c/hello_http/image` (lower case; runs
    of other characters become `-`)."""
    path = "/".join(p for p in (address.spec_path, address.target_name) if p)
    parts = [re.sub(r"[^a-z0-9._-]+", "-", p.lower()).strip("._-") or "image" for p in path.split("/")]
    return "/".join(parts)


class UnikernelRegistriesField(StringSequenceField):
    alias = "registries"
    default = ()
    help = softwrap(
        """
        Where `pants publish` pushes the image: each entry a registry address (`host` or
        `host:port`, e.g. `"registry.example.com"`, `"127.0.0.1:5000"`) or `@alias`, an alias
        defined in `[unikernel-publish].registries`. Empty (the default): nothing is
        published. Pushed, for every registry and tag: the unikernel artifact (an OCI 1.1
        manifest whose layers are the bundle's files, `repository:tag`), the container image
        when `formats` lists `container` (`repository:tag-container`) and a KubeVirt
        containerDisk of the disk when it lists `qcow2` (`repository:tag-containerdisk`). See
        docs/publish.md.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address) -> Optional[Tuple[str, ...]]:
        value = super().compute_value(raw_value, address)
        for entry in value or ():
            if entry.startswith("@"):
                if not re.fullmatch(r"@[A-Za-z0-9_.-]+", entry):
                    raise InvalidFieldException(
                        f"The `{cls.alias}` field of {address} lists {entry!r}: an alias is `@` and a "
                        "name defined in `[unikernel-publish].registries`, e.g. `@internal`."
                    )
            elif not ADDRESS_RE.fullmatch(entry):
                raise InvalidFieldException(
                    f"The `{cls.alias}` field of {address} lists {entry!r}, which is neither a registry "
                    "address (`host` or `host:port`, no scheme or path: e.g. `registry.example.com:5000`) "
                    "nor an `@alias` of `[unikernel-publish].registries`."
                )
        return value


class UnikernelRepositoryField(StringField):
    alias = "repository"
    help = softwrap(
        """
        The repository the image is pushed to in every registry of `registries`, e.g.
        `"apps/hello"`. Default: the target's path and name, lower-cased
        (`testprojects/c/hello_http:image` -> `testprojects/c/hello_http/image`).
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and not REPOSITORY_RE.fullmatch(value):
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{cls.alias}` field of {address} is {value!r}, which is not a valid
                    repository name: lower-case letters and digits, separated by `.`, `_`, `__`
                    or `-`, in path components joined by `/` (e.g. `"apps/hello-http"`).
                    """
                )
            )
        return value


class UnikernelImageTagsField(StringSequenceField):
    alias = "image_tags"
    default = ("latest",)
    help = softwrap(
        """
        The tags pushed for the image in its repository (each also with `-container` for the
        container image and `-containerdisk` for the KubeVirt containerDisk). A tag is 1-128 letters, digits, `_`, `.` or `-`, not starting with
        `.` or `-`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address) -> Optional[Tuple[str, ...]]:
        value = super().compute_value(raw_value, address)
        bad = [t for t in value or () if not TAG_RE.fullmatch(t) or len(t) + len(CONTAINERDISK_TAG_SUFFIX) > 128]
        if bad:
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} lists {', '.join(repr(t) for t in bad)}: a tag is "
                "letters, digits, `_`, `.` and `-`, starts with a letter, digit or `_`, and has at most "
                f"{128 - len(CONTAINERDISK_TAG_SUFFIX)} characters here (the containerDisk's tag adds "
                f"`{CONTAINERDISK_TAG_SUFFIX}`), e.g. `image_tags=[\"1.2.0\", \"latest\"]`."
            )
        if value is not None and not value:
            raise InvalidFieldException(f"The `{cls.alias}` field of {address} is empty: list at least one tag.")
        return value


class UnikernelSkipPushField(BoolField):
    alias = "skip_push"
    default = False
    help = "If true, `pants publish` builds the image but pushes nothing (and says so)."


PUBLISH_FIELDS = (UnikernelRegistriesField, UnikernelRepositoryField, UnikernelImageTagsField, UnikernelSkipPushField)
