"""The `unikernel_files` target: files placed at an absolute path in the guest."""

from __future__ import annotations

import posixpath
from typing import Optional

from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    InvalidFieldException,
    MultipleSourcesField,
    StringField,
    Target,
)
from pants.util.strutil import softwrap

# Guest directories the image cannot hold files in: init mounts kernel file systems or an empty
# tmpfs over them at boot (see init/setup.c), so files placed there would be hidden.
MOUNTED_DIRS = ("/dev", "/proc", "/sys", "/tmp")
# Guest paths of init itself (rootfs/rules.py: INIT_PATH, UK_DIR).
INIT_PATHS = ("/init", "/.uk")


class UnikernelFilesSourcesField(MultipleSourcesField):
    required = True
    uses_source_roots = False
    help = softwrap(
        """
        The files to place, relative to this BUILD file's directory, e.g.
        `["config.toml"]` or `["conf.d/*.toml"]`. Each keeps its path relative to the BUILD
        file's directory under `destination`.
        """
    )


def climbs_out(path: str) -> bool:
    """Whether a `..` of `path` climbs above the directory the path starts from."""
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def guest_path_problem(path: str) -> Optional[str]:
    """Why `path` (absolute, in the guest) cannot hold files placed by the build, or None."""
    if not path.startswith("/"):
        return "it is not absolute (it must start with `/`)"
    if climbs_out(path):
        return "its `..` climbs above the guest's root directory `/`, out of the image"
    normal = posixpath.normpath(path)
    for reserved in INIT_PATHS:
        if normal == reserved or normal.startswith(reserved + "/"):
            return f"{reserved} belongs to the image's init"
    for mounted in MOUNTED_DIRS:
        if normal == mounted or normal.startswith(mounted + "/"):
            return f"init mounts a file system on {mounted} at boot, which would hide the files"
    return None


class UnikernelFilesDestinationField(StringField):
    alias = "destination"
    required = True
    value: str
    help = softwrap(
        f"""
        The absolute guest directory the files go to, e.g. `"/etc/myapp"`: `config.toml` in
        `sources` becomes `/etc/myapp/config.toml`. `"/"` is allowed; {', '.join(MOUNTED_DIRS)}
        (where init mounts file systems at boot) and init's own paths are not.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> str:
        value = super().compute_value(raw_value, address)
        assert value is not None
        problem = guest_path_problem(value)
        if problem:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{cls.alias}` field of the `{UnikernelFilesTarget.alias}` {address} is
                    {value!r}, which cannot hold the image's files: {problem}. Use an absolute
                    directory inside the image, such as `destination="/etc/myapp"`.
                    """
                )
            )
        return posixpath.normpath(value)


class UnikernelFilesTarget(Target):
    alias = "unikernel_files"
    core_fields = (*COMMON_TARGET_FIELDS, UnikernelFilesSourcesField, UnikernelFilesDestinationField)
    help = softwrap(
        """
        Files placed at an absolute path in the guest, e.g. a config file where the app
        expects it:

            unikernel_files(name="config", sources=["config.toml"], destination="/etc/myapp")

        Add the target to a `unikernel_image`'s `dependencies`. Unlike `files` (which keep
        their repository path under `/app`) and `relocated_files` (whose paths are relative to
        `/app`), the path is absolute. Two dependencies of an image may not place a file at the
        same path.
        """
    )
