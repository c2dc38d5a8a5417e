from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Optional

import pytest

from unikernel_rules.rootfs import elf_closure

HOST_LIB_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")


def _find_host_lib(soname: str) -> Optional[str]:
    for d in HOST_LIB_DIRS:
        if os.path.exists(os.path.join(d, soname)):
            return os.path.realpath(os.path.join(d, soname))
    return None


def _host_lib(soname: str) -> str:
    found = _find_host_lib(soname)
    assert found, soname
    return found


def _program() -> str:
    """A dynamically linked host program whose libraries are all in the standard directories."""
    for candidate in (sys.executable, shutil.which("ls"), shutil.which("env"), "/bin/ls"):
        if not candidate or not os.path.exists(candidate):
            continue
        program = os.path.realpath(candidate)
        info = elf_closure.read_elf(program) if elf_closure.is_elf(program) else None
        if info and info.needed and info.interpreter and all(_find_host_lib(n) for n in info.needed):
            return program
    pytest.skip("no dynamically linked host program with its libraries in the standard directories")


def _tree(tmp_path: Path, omit: str = "") -> Path:
    """A tree with the test interpreter as usr/bin/prog and its libraries copied from the host,
    each behind a soname symlink (as Debian ships them), the loader behind lib64/."""
    tree = tmp_path / "tree"
    program = _program()
    (tree / "usr/bin").mkdir(parents=True)
    shutil.copyfile(program, tree / "usr/bin/prog")
    libdir = tree / "lib/x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    todo = list(elf_closure.read_elf(program).needed)
    done = set()
    while todo:
        soname = todo.pop()
        if soname in done or soname == omit:
            continue
        done.add(soname)
        real = _host_lib(soname)
        shutil.copyfile(real, libdir / (soname + ".real"))
        os.symlink(soname + ".real", libdir / soname)
        todo += elf_closure.read_elf(real).needed
    interp = elf_closure.read_elf(program).interpreter
    shutil.copyfile(os.path.realpath(interp), libdir / os.path.basename(interp))
    (tree / "lib64").mkdir()
    os.symlink("/lib/x86_64-linux-gnu/" + os.path.basename(interp), tree / "lib64" / os.path.basename(interp))
    return tree


def test_closure_follows_needed_and_symlinks(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    result = elf_closure.closure(str(tree), ["usr/bin/prog"])
    assert result.missing == {}
    needed = elf_closure.read_elf(str(tree / "usr/bin/prog")).needed
    for soname in needed:
        assert f"lib/x86_64-linux-gnu/{soname}" in result.paths  # the symlink
        assert f"lib/x86_64-linux-gnu/{soname}.real" in result.paths  # and its target
    interp = os.path.basename(elf_closure.read_elf(str(tree / "usr/bin/prog")).interpreter)
    assert f"lib64/{interp}" in result.paths
    assert f"lib/x86_64-linux-gnu/{interp}" in result.paths


def test_missing_library_is_named_with_its_needer(tmp_path: Path) -> None:
    needed = elf_closure.read_elf(_program()).needed
    omit = next((n for n in needed if n.startswith("libc.so")), needed[0])
    tree = _tree(tmp_path, omit=omit)
    result = elf_closure.closure(str(tree), ["usr/bin/prog"])
    assert "usr/bin/prog" in result.missing[omit]


def test_resolve_in_tree_keeps_absolute_links_inside(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/real").write_text("x")
    os.symlink("usr/lib", tmp_path / "lib")
    os.symlink("/lib/real", tmp_path / "abs")
    assert elf_closure.resolve_in_tree(str(tmp_path), "abs") == ("usr/lib/real", ["abs", "lib"])
    assert elf_closure.resolve_in_tree(str(tmp_path), "nope")[0] is None


def test_a_root_satisfies_its_own_file_name(tmp_path: Path) -> None:
    # The JVM: lib/libjava.so needs libjvm.so, which is lib/server/libjvm.so, loaded by full
    # path before it. A root with the soname as file name satisfies it; otherwise it is missing.
    needed = elf_closure.read_elf(_program()).needed
    omit = next((n for n in needed if n.startswith("libc.so")), needed[0])
    tree = _tree(tmp_path, omit=omit)
    (tree / "opt/server").mkdir(parents=True)
    shutil.copyfile(os.path.realpath(_program()), tree / "opt/server" / omit)
    result = elf_closure.closure(str(tree), ["usr/bin/prog", f"opt/server/{omit}"])
    assert omit not in result.missing
