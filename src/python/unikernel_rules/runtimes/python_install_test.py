from __future__ import annotations

import os
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
