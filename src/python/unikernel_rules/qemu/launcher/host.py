"""The host side: probing acceleration, finding QEMU and ports, and controlling processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from typing import Any, Optional, Tuple

from .options import HostInfo, LaunchError

# Seconds between SIGTERM and SIGKILL when stopping QEMU.
TERM_GRACE_S = 2.0


def probe_host(cpuinfo_path: str = "/proc/cpuinfo", kvm_path: str = "/dev/kvm") -> HostInfo:
    flags: set = set()
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.partition(":")[2].split())
                    break
    except OSError:
        pass
    kvm = False
    try:
        fd = os.open(kvm_path, os.O_RDWR | os.O_CLOEXEC)
        os.close(fd)
        kvm = True
    except OSError:
        pass
    return HostInfo(cpu_flags=frozenset(flags), kvm_usable=kvm)


def find_qemu(explicit: Optional[str] = None) -> str:
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        found = shutil.which(explicit)
        if found:
            return found
        raise LaunchError(f"QEMU was not found at {explicit!r}")
    found = shutil.which("qemu-system-x86_64")
    if not found:
        raise LaunchError(
            "qemu-system-x86_64 was not found on PATH: install QEMU (Debian: apt-get install "
            "qemu-system-x86) or pass --qemu PATH"
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pdeathsig_preexec():
    """A preexec_fn that makes the child get SIGKILL when the launcher dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the launcher died before prctl took effect
            os._exit(1)

    return preexec


def stop_process(proc: "subprocess.Popen[bytes]", grace_s: float = TERM_GRACE_S) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; always waits for the process."""
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except BaseException:
        # Interrupted (e.g. a second Ctrl-C) while waiting: never leave QEMU behind.
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise


def save_tty() -> Optional[Any]:
    try:
        import termios

        if os.isatty(0):
            return termios.tcgetattr(0)
    except (ImportError, OSError):
        pass
    return None


def restore_tty(saved: Optional[Any]) -> None:
    """QEMU puts a terminal on stdin into raw mode; put it back even if QEMU was killed."""
    if saved is None:
        return
    try:
        import termios

        old = None
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        finally:
            if old is not None:
                signal.signal(signal.SIGTTOU, old)
    except (ImportError, OSError):
        pass


def http_get(port: int, path: str, timeout: float) -> Tuple[int, str]:
    """GET http://127.0.0.1:port/path without proxies -> (status, body)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        return resp.status, body
    finally:
        conn.close()
