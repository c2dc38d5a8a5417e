from __future__ import annotations

import io
import lzma
import tarfile

import pytest
from pants.engine.fs import Directory, FileContent, SymlinkEntry

from unikernel_rules.debian.extract_deb_test import _ar
from unikernel_rules.debian.lock import DebianLockError
from unikernel_rules.debian.subsystem import DEFAULT_ROOTS
from unikernel_rules.debian.tool_python import TOOL_PYTHON_DIR, TOOL_PYTHON_PACKAGES, ToolPython, deb_entries


def _deb(files) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, link in files:
            info = tarfile.TarInfo(name)
            if data is None and not link:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif link:
                info.type, info.linkname = tarfile.SYMTYPE, link
            else:
                info.size, info.mode = len(data), 0o755 if name.endswith("python3.11") else 0o644
            tar.addfile(info, io.BytesIO(data) if data else None)
    return _ar([("debian-binary", b"2.0\n"), ("data.tar.xz", lzma.compress(buf.getvalue()))])


def test_deb_entries_keep_symlinks_modes_and_directories() -> None:
    python = _deb([("./usr/", None, ""), ("./usr/bin/python3.11", b"ELF", ""), ("./usr/share/doc/x", b"doc", "")])
    libc = _deb([("./lib64/ld-linux-x86-64.so.2", None, "/lib/x86_64-linux-gnu/ld.so")])
    assert deb_entries("python.deb", python) == (
        Directory("usr"),
        FileContent("usr/bin/python3.11", b"ELF", is_executable=True),
    )
    assert deb_entries("libc.deb", libc) == (
        SymlinkEntry("lib64/ld-linux-x86-64.so.2", "../lib/x86_64-linux-gnu/ld.so"),
    )


def test_a_broken_deb_names_the_package() -> None:
    with pytest.raises(DebianLockError, match="Unpacking broken.deb for the build scripts' Python failed"):
        deb_entries("broken.deb", b"not an ar archive")


def test_argv_runs_the_trees_python_through_its_loader() -> None:
    argv = ToolPython.__dataclass_fields__["interpreter"].default
    assert argv[0] == f"{TOOL_PYTHON_DIR}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert "--inhibit-cache" in argv and argv[-1] == f"{TOOL_PYTHON_DIR}/usr/bin/python3.11"
    assert not any(a.startswith("/") for a in argv), "a host path would enter every cache key"


def test_tool_python_packages_are_locked_by_default() -> None:
    # All in the closure of the default roots python3.11-minimal and libpython3.11-stdlib.
    assert {"python3.11-minimal", "libpython3.11-stdlib"} <= set(DEFAULT_ROOTS)
    assert "python3.11-minimal" in TOOL_PYTHON_PACKAGES
