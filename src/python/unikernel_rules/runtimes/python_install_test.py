from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from unikernel_rules.runtimes import python_install


def test_relocate_points_the_venv_at_guest_paths(tmp_path: Path) -> None:
    venv = tmp_path / "out/opt/app"
    (venv / "bin").mkdir(parents=True)
    os.symlink("/sandbox/123/rt/usr/bin/python3.11", venv / "bin/python")
    (venv / "bin/tool").write_text("#!/sandbox/123/out/opt/app/bin/python\n")
    (venv / "__main__.py").write_text("#!/sandbox/123/out/opt/app/bin/python\n")
    (venv / "pyvenv.cfg").write_text("home = /sandbox/123/rt/usr/bin\n")
    python_install.relocate(str(venv), {"interpreter": "/usr/bin/python3.11", "version": "3.11.2"})
    assert sorted(os.listdir(venv / "bin")) == ["python", "python3", "python3.11"]
    assert os.readlink(venv / "bin/python3") == "/usr/bin/python3.11"
    assert not (venv / "__main__.py").exists()
    assert (venv / "pyvenv.cfg").read_text() == (
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"
    )


def test_sandbox_paths_are_an_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "opt").mkdir(parents=True)
    (out / "opt/ok.py").write_text("x = 1\n")
    python_install.check_no_sandbox_paths(str(out))
    (out / "opt/leak.pth").write_text(os.path.abspath(out) + "/opt\n")
    with pytest.raises(python_install.InstallError, match="leak.pth"):
        python_install.check_no_sandbox_paths(str(out))


def test_stdlib_files_follow_imports_through_namespace_packages(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "ns/app").mkdir(parents=True)  # `ns` and `ns/app` have no __init__.py
    (site / "ns/app/main.py").write_text("import json\nfrom ns.app import helper\n")
    (site / "ns/app/helper.py").write_text("def f():\n    import csv\n")  # imports in functions count
    files = python_install.stdlib_files(str(site), "ns.app.main", ["fractions"])
    assert "json/__init__.py" in files and "json/decoder.py" in files
    assert "csv.py" in files and "fractions.py" in files
    assert "site.py" in files and "traceback.py" in files  # start-up and tracebacks
    assert any(f.startswith("encodings/") and f.endswith("cp1252.py") for f in files)
    assert not any(f.startswith(("tkinter/", "unittest/", "pydoc")) for f in files)
    pyc = f"__pycache__/csv.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc"
    assert (pyc in files) == os.path.exists(os.path.join(os.path.dirname(os.__file__), pyc))


def test_stdlib_keep_must_name_stdlib_modules(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("")
    with pytest.raises(python_install.InstallError, match="no_such_module_xyz"):
        python_install.stdlib_files(str(tmp_path), "main", ["no_such_module_xyz"])


def _site(tmp_path: Path, files: dict) -> str:
    for rel, text in files.items():
        path = tmp_path / "site" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "site")


def test_entry_point_that_exists(tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        {
            "serve.py": "import sys\nif True:\n    def main():\n        pass\n",
            "pkg/__init__.py": "from .impl import run as start\n",
            "pkg/__main__.py": "",
            "pkg/sub.py": "main = lambda: 0\n",
            "ns/tool.py": "try:\n    from fast import go\nexcept ImportError:\n    def go(): pass\n",
            "star.py": "from os.path import *\n",
        },
    )
    check = python_install.check_entry_point
    assert check(site, "serve", "main") is None
    assert check(site, "serve", None) is None
    assert check(site, "pkg", None) is None  # has __main__.py
    assert check(site, "pkg", "start") is None  # bound by an import
    assert check(site, "pkg", "sub") is None  # a submodule
    assert check(site, "pkg.sub", "main") is None
    assert check(site, "ns.tool", "go") is None  # namespace package, name bound in try/except
    assert check(site, "star", "anything") is None  # `import *`: cannot tell, so no error


def test_entry_point_that_does_not_exist(tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        {"serve.py": "def main():\n    def inner(): pass\n", "lib/__init__.py": "", "ns/x.py": ""},
    )
    check = python_install.check_entry_point
    assert "no module `nosuch`" in check(site, "nosuch", "main")
    assert "no module `serve.x`" in check(site, "serve.x", None)
    assert "defines no `inner`" in check(site, "serve", "inner")  # not at the top level
    assert "defines no `mian`" in check(site, "serve", "mian")
    assert "without a `__main__.py`" in check(site, "lib", None)
    assert "without `__init__.py`" in check(site, "ns", None)
