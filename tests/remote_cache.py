"""A BuildGrid REAPI server on loopback (CAS + ActionCache, disk storage) and Pants' counters.

BuildGrid comes from `tests/tools:bgd` (resolve `buildgrid`, 3rdparty/python/buildgrid.lock),
which a test that lists it in `runtime_package_dependencies` finds at `tests.tools/bgd.pex`.
It runs on CPython 3.11 (pyenv's or the system's `python3.11`).
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import figures

BGD_PEX = "tests.tools/bgd.pex"

CONFIG = """\
description: unikernel_rules test cache (CAS + ActionCache, no execution)
server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
authorization:
  method: none
storages:
  - !disk-storage &cas
    path: {storage}
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
instances:
  - name: ""
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
# gRPC worker threads: also BuildGrid's cap on concurrent RPCs (grpc.server's
# maximum_concurrent_rpcs); beyond it requests fail with "Concurrent RPC limit exceeded!".
# It must exceed what Pants opens at once (see remote_flags: 16 store + 16 cache RPCs).
thread-pool-size: 128
"""


def find_python311() -> Optional[str]:
    candidates = [
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.11*/bin/python3.11")), reverse=True),
        "/usr/bin/python3.11",
        shutil.which("python3.11") or "",
    ]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            if subprocess.run([c, "-c", "import sys"], capture_output=True).returncode == 0:
                return c
    return None


def find_bgd_pex() -> Optional[Path]:
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / BGD_PEX).exists():
            return candidate / BGD_PEX
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class BuildGrid:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.log = workdir / "bgd.log"

    @property
    def address(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        pex, python = find_bgd_pex(), find_python311()
        assert pex, f"{BGD_PEX} is not in the sandbox: list tests/tools:bgd in runtime_package_dependencies"
        assert python, "BuildGrid needs CPython 3.11 (pyenv or the system's python3.11)"
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "bgd.yml"
        config.write_text(CONFIG.format(port=self.port, storage=self.workdir / "cas"))
        self.proc = subprocess.Popen(
            [python, str(pex), "server", "start", str(config)],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout  # the venv PEX installs itself on first start
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"BuildGrid exited {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
            if _listening(self.port):
                return
            time.sleep(0.5)
        self.stop()
        raise AssertionError(f"BuildGrid did not listen on {self.port} in {timeout} s:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@contextlib.contextmanager
def buildgrid(workdir: Path) -> Iterator[BuildGrid]:
    server = BuildGrid(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


_COUNTER = re.compile(r"^\s+([a-z_]+): (\d+)$")


def parse_counters(stderr: str) -> Dict[str, int]:
    """The `Counters:` block that `--stats-log` prints at the end of a run."""
    counters: Dict[str, int] = {}
    in_block = False
    for line in stderr.splitlines():
        if line.rstrip().endswith("Counters:"):
            in_block, counters = True, {}
            continue
        if in_block:
            m = _COUNTER.match(line)
            if m:
                counters[m.group(1)] = int(m.group(2))
            else:
                in_block = False
    return counters


def processes_run_locally(counters: Dict[str, int]) -> int:
    """Cacheable processes (build steps) that ran to completion locally, from Pants' `--stats-log`
    counters of a build with a remote cache.

    Every process whose cache scope allows caching asks the remote cache
    (`remote_cache_requests`). Pants 2.17 may start such a process locally *while* it asks
    (speculation without delay) and cancels the local run when the cache answers first, so
    `local_execution_requests` also counts cancelled starts. What ran: the remote cache's
    misses, and local runs that beat the cache's answer."""
    c = counters.get
    return c("remote_cache_requests_uncached", 0) + c("remote_cache_speculation_local_completed_first", 0)


def processes_never_cached(counters: Dict[str, int]) -> int:
    """Processes that never ask a cache: Pants' environment discovery, whose scope is
    per-restart by design (`Searching for <tool> on PATH`, `Test binary <path>` fingerprints,
    `Find interpreter for constraints`). They run on every machine, in every new Pants process:
    everything Pants looked up in its local cache but never asked the remote cache."""
    return max(0, counters.get("local_cache_requests", 0) - counters.get("remote_cache_requests", 0))


def remote_flags(
    address: str,
    *,
    read: bool,
    write: bool,
    local_store: Optional[Path] = None,
    named_caches: Optional[Path] = None,
) -> Tuple[str, ...]:
    """Pants flags for a build against the REAPI server at `address`; `local_store` and
    `named_caches`: other directories than the user's (an empty dir: an empty cache, as on
    another machine).

    No cache key holds the named caches directory (docs/remote-cache.md, "Cross-machine hits"),
    so a test that plays "another machine" gives it a directory of its own."""
    return (
        *((f"--local-store-dir={local_store}",) if local_store else ()),
        *((f"--named-caches-dir={named_caches}",) if named_caches else ()),
        f"--remote-store-address={address}",
        "--remote-cache-read" if read else "--no-remote-cache-read",
        "--remote-cache-write" if write else "--no-remote-cache-write",
        # A hit once the outputs are known to exist remotely (fetched when needed): else a
        # large output's download races the local speculative run of the same process.
        "--cache-content-behavior=validate",
        "--remote-cache-rpc-timeout-millis=30000",
        # BuildGrid refuses RPCs beyond its thread-pool-size (CONFIG: 128); Pants' defaults
        # (128 each) would exceed it.
        "--remote-store-rpc-concurrency=16",
        "--remote-cache-rpc-concurrency=16",
        "--remote-store-rpc-timeout-millis=120000",
        "--stats-log",
    )


# The reproducibility test's measured figures, for the benchmark report (tests/benchmarks/report.py
# renders them into docs/benchmarks.md). Outside any sandbox: Pants runs the test in one, and
# `pants run tests/benchmarks:report` reads it from the same machine's temp dir.
FIGURES_FILE = "unikernel-rules-reproducibility.json"


def figures_path() -> Path:
    return figures.figures_path(FIGURES_FILE)


def record_figures(**figures: Any) -> Dict[str, Any]:
    """Merge `figures` into the figures file of this run (a run starts with `started=...`)."""
    path = figures_path()
    current: Dict[str, Any] = {}
    if "started" not in figures:
        with contextlib.suppress(OSError, ValueError):
            current = json.loads(path.read_text())
    current.update(figures)
    current["updated"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    return current


def read_figures(path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    return figures.read_figures(FIGURES_FILE, path)
