"""Servers of a test's own, stopped by pid, nothing on the machine changed: a Docker engine
(Debian's dockerd on its own socket, data root and exec root, no bridge, no iptables) with a
minimal client of its Engine API over the unix socket (the standard library only: independent of
the Docker SDK that the container run mode uses), and an OCI registry (Debian's docker-registry
on a free loopback port)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

LABEL = "dev.unikernel-rules.target"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class EngineApi:
    def __init__(self, docker_host: str) -> None:
        assert docker_host.startswith("unix://"), docker_host
        self.docker_host = docker_host
        self.path = docker_host[len("unix://"):]

    def request(self, method: str, path: str, body: Any = None, *, timeout: float = 60, raw: bool = False) -> Tuple[int, Any]:
        conn = _UnixConnection(self.path, timeout)
        headers = {}
        if isinstance(body, (bytes, bytearray)):
            headers["Content-Type"] = "application/x-tar"
        elif body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if raw:
            return response.status, data
        text = data.strip()
        try:
            return response.status, json.loads(text) if text else None
        except ValueError:
            return response.status, text.decode(errors="replace")

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    def our_containers(self) -> list:
        filters = urllib.parse.quote(json.dumps({"label": [LABEL]}))
        return self.get(f"/containers/json?all=1&filters={filters}")


def _binary(name: str, fallback: str, package: str) -> str:
    binary = shutil.which(name) or fallback
    if not os.path.exists(binary):
        raise RuntimeError(f"{name} is missing: build-support/setup-host.sh installs Debian's {package}")
    return binary


@contextlib.contextmanager
def _server(name: str, argv: List[str], base: Path, ready: Callable[[], bool], timeout_s: float) -> Iterator[None]:
    """Run `argv` (its output in base/<name>.log) until `ready()`; on exit stop it (SIGTERM, then
    SIGKILL) and remove `base`."""
    log_path = base / f"{name}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(OSError):
                if ready():
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["umount", "-R", str(base / "data")], capture_output=True)  # dockerd's overlays
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def dockerd(timeout_s: float = 90) -> Iterator[EngineApi]:
    """Start a dockerd of our own; yields its API."""
    binary = _binary("dockerd", "/usr/sbin/dockerd", "docker.io")
    # Short paths: containerd's sockets live under the exec root (108-byte socket path limit).
    base = Path(tempfile.mkdtemp(prefix="ukd-", dir="/tmp"))
    sock = base / "d.sock"
    argv = [
        binary, "--bridge=none", "--iptables=false", "--ip6tables=false",
        f"--data-root={base}/data", f"--exec-root={base}/x", "-H", f"unix://{sock}", f"--pidfile={base}/d.pid",
    ]
    api = EngineApi(f"unix://{sock}")
    with _server("dockerd", argv, base, lambda: api.request("GET", "/_ping", timeout=5) == (200, "OK"), timeout_s):
        yield api


def load(api: EngineApi, tarball: Path) -> None:
    status, body = api.request("POST", "/images/load?quiet=1", tarball.read_bytes(), timeout=300)
    assert status == 200, (status, body)


def run_until(api: EngineApi, image_id: str, cmd: Optional[list], marker: bytes, timeout_s: float = 120) -> float:
    """Create a container of `image_id` (host network), start it, and return the wall seconds
    from the start request until `marker` is in its output; the container is removed."""
    status, created = api.request(
        "POST", "/containers/create",
        {"Image": image_id, **({"Cmd": cmd} if cmd else {}), "Labels": {LABEL: "benchmark"},
         "HostConfig": {"NetworkMode": "host"}},
    )
    assert status == 201, (status, created)
    cid = created["Id"]
    try:
        start = time.monotonic()
        status, body = api.request("POST", f"/containers/{cid}/start")
        assert status == 204, (status, body)
        while time.monotonic() - start < timeout_s:
            _, logs = api.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1", raw=True)
            if marker in logs:
                return time.monotonic() - start
            time.sleep(0.005)
        raise AssertionError(f"no {marker!r} after {timeout_s} s: {logs[-2000:]!r}")
    finally:
        api.request("DELETE", f"/containers/{cid}?force=1")


def blob_uploads(log: Path) -> int:
    """Blob uploads a registry has started (the distribution API's POST .../blobs/uploads/),
    counted in its access log."""
    return sum(1 for line in log.read_text(errors="replace").splitlines() if "POST /v2/" in line and "/blobs/uploads/" in line)


@contextlib.contextmanager
def registry(htpasswd: Optional[str] = None, timeout_s: float = 30) -> Iterator[Tuple[str, Path]]:
    """Debian's docker-registry (the CNCF distribution registry) on a free loopback port, its
    storage in a temporary directory, every request in its log; `htpasswd`: the content of an
    htpasswd file (bcrypt) to require. Yields (host:port, the log file)."""
    from unikernel_rules.qemu import launcher

    binary = _binary("docker-registry", "/usr/bin/docker-registry", "docker-registry")
    base = Path(tempfile.mkdtemp(prefix="ukr-", dir="/tmp"))
    port = launcher.free_port()
    auth = ""
    if htpasswd is not None:
        (base / "htpasswd").write_text(htpasswd)
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {base / 'htpasswd'}\n"
    (base / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {base / 'data'}\n{auth}http:\n  addr: 127.0.0.1:{port}\n"
    )

    def ready() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    with _server("registry", [binary, "serve", str(base / "config.yml")], base, ready, timeout_s):
        yield f"127.0.0.1:{port}", base / "registry.log"
