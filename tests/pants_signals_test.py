"""build-support/pants_signals.py, which the `./pants` bootstrap runs Pants through: Ctrl-C ->
130 whatever the command returns, other signals passed on, the status passed through. A stand-in
command plays Pants 2.17 (which answers SIGINT with status 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pants_repo import source_root

WRAPPER = source_root() / "build-support" / "pants_signals.py"

# Like Pants 2.17: prints READY, exits 1 on SIGINT, `term_status` on SIGTERM, else sleeps.
STAND_IN = """
import signal, sys, time
term_status = int(sys.argv[1])
signal.signal(signal.SIGINT, lambda *_: sys.exit(1))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(term_status))
quits = []  # SIGQUITs received; half a second after the first, exit 10 + their number
def on_quit(*_):
    quits.append(1)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
signal.signal(signal.SIGQUIT, on_quit)
signal.signal(signal.SIGALRM, lambda *_: sys.exit(10 + len(quits)))
print("READY", flush=True)
time.sleep(60)
sys.exit(0)
"""


def _start(tmp_path: Path, *command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRAPPER), *command],
        stdout=subprocess.PIPE,
        start_new_session=True,  # its own process group: the test plays the terminal
    )


def _stand_in(tmp_path: Path, term_status: int = 7) -> list:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    return [sys.executable, str(script), str(term_status)]


def _wait_ready(proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"READY"


def test_ctrl_c_exits_130_although_the_command_exits_1(tmp_path: Path) -> None:
    proc = _start(tmp_path, *_stand_in(tmp_path))
    _wait_ready(proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    assert proc.wait(timeout=30) == 130


def test_a_terminals_sigquit_reaches_the_command_once(tmp_path: Path) -> None:
    proc = _start(tmp_path, *_stand_in(tmp_path))
    _wait_ready(proc)
    os.killpg(proc.pid, signal.SIGQUIT)  # Ctrl-\: the whole group, the command included
    assert proc.wait(timeout=30) == 11, "the command got SIGQUIT twice (passed on) or never"


def test_sigterm_is_passed_on_and_its_status_kept(tmp_path: Path) -> None:
    proc = _start(tmp_path, *_stand_in(tmp_path, term_status=7))
    _wait_ready(proc)
    proc.send_signal(signal.SIGTERM)  # to the wrapper only, as `timeout` does
    assert proc.wait(timeout=30) == 7


@pytest.mark.parametrize("code, expected", [("sys.exit(0)", 0), ("sys.exit(3)", 3), ("os.kill(os.getpid(), 9)", 137)])
def test_status_passed_through(tmp_path: Path, code: str, expected: int) -> None:
    proc = _start(tmp_path, sys.executable, "-c", f"import os, sys; {code}")
    assert proc.wait(timeout=30) == expected


def test_a_command_that_cannot_start(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(WRAPPER), str(tmp_path / "missing")], capture_output=True, text=True)
    assert result.returncode == 127
    assert "cannot start" in result.stderr


def test_no_command_prints_usage() -> None:
    result = subprocess.run([sys.executable, str(WRAPPER)], capture_output=True, text=True)
    assert result.returncode == 2 and "Ctrl-C" in result.stderr
