#!/usr/bin/env python3
"""Run a command (Pants, from the `./pants` bootstrap) and exit as a program stopped by Ctrl-C
should: 130 (128 + SIGINT).

    pants_signals.py COMMAND [ARG...]

Pants 2.17 answers Ctrl-C with "Interrupted by user." and status 1, whatever the interrupted
program returned (`pants run` of an image: the launcher stops the VM and exits 130, then Pants
reports 1). Shells, `timeout`, CI systems and the issue's users expect 130. This wrapper:

- keeps the command in the same process group, so a terminal's Ctrl-C (SIGINT to the
  foreground group) reaches it directly, as before; the wrapper only notes it, and exits 130
  once the command has exited (a SIGINT is not passed on: the command already has it);
- ignores a terminal's other keyboard signal, SIGQUIT (Ctrl-\\), the same way: the command is
  in the foreground group and gets it itself (passing it on would deliver it twice);
- passes SIGTERM and SIGHUP on to the command (what `exec` gave before: `timeout` and CI
  runners signal the process they started);
- otherwise exits with the command's status (128 + N if a signal N killed it).

Standard library only: it runs before Pants, with the bootstrap's Python.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import List, Optional

FORWARDED = (signal.SIGTERM, signal.SIGHUP)
# Keyboard signals: the terminal sends them to the whole foreground group, the command included.
KEYBOARD = (signal.SIGQUIT,)
INTERRUPTED_STATUS = 128 + signal.SIGINT


def exit_status(returncode: int, interrupted: bool) -> int:
    """The wrapper's status for the command's Popen `returncode`."""
    if interrupted:
        return INTERRUPTED_STATUS
    return 128 - returncode if returncode < 0 else returncode


def run(argv: List[str]) -> int:
    child: Optional[subprocess.Popen] = None
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    def forward(signum: int, frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    # Handlers before the child starts: no signal is lost in between. A handled signal is
    # reset to its default in the child by exec, so the command sees SIGINT as usual.
    signal.signal(signal.SIGINT, on_sigint)
    for sig in FORWARDED:
        signal.signal(sig, forward)
    for sig in KEYBOARD:
        signal.signal(sig, lambda signum, frame: None)  # handled, not SIG_IGN: exec resets it
    try:
        child = subprocess.Popen(argv)
    except OSError as e:
        print(f"pants bootstrap: cannot start {argv[0]}: {e}", file=sys.stderr)
        return 127
    returncode = child.wait()  # a handled signal does not interrupt it (PEP 475)
    return exit_status(returncode, interrupted)


def main() -> None:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
