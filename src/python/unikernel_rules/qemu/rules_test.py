"""The launcher package that `pants run` ships is complete and runs as a directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from unikernel_rules.qemu import launcher
from unikernel_rules.qemu.rules import LAUNCHER_MODULES


def test_shipped_modules_are_the_whole_package():
    on_disk = sorted(
        n for n in os.listdir(launcher.LAUNCHER_DIR) if n.endswith(".py") and not n.endswith("_test.py")
    )
    assert sorted(LAUNCHER_MODULES) == on_disk


def test_shipped_copy_runs_as_a_script(tmp_path):
    # Only the shipped files, under another directory name, outside the source tree.
    shipped = tmp_path / "__unikernel" / "launcher"
    shipped.mkdir(parents=True)
    for name in LAUNCHER_MODULES:
        shutil.copy(os.path.join(launcher.LAUNCHER_DIR, name), shipped / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-S", str(shipped), "--bundle", str(tmp_path / "missing")],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
