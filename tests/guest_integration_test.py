"""The container-grade guest of docs/guest.md, checked from inside a booted image by
testprojects/c/guest_probe, and the bad inputs of its fields (issue 10, scope 1, 3, 5, 10)."""

from __future__ import annotations

import socket
import textwrap
import threading
from typing import Iterator

import pytest

from pants_repo import RepoCopy, fails_with

PROBE = "//testprojects/c/guest_probe:app"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("guest") / "repo")
    yield repo
    repo.stop_pantsd()
    repo.cleanup()


@pytest.fixture(scope="module")
def host_server() -> Iterator[int]:
    """A TCP server on the host's 127.0.0.1, as a developer's database would be."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def _image(repo: RepoCopy, name: str, **fields: str) -> str:
    extra = "".join(f", {k}={v}" for k, v in fields.items())
    path = f"testprojects/guest/{name}"
    repo.write(f"{path}/BUILD", f'unikernel_image(name="image", dependencies=["{PROBE}"]{extra})\n')
    return f"{path}:image"


def _probe(repo: RepoCopy, target: str, *args: str) -> str:
    result = repo.run("run", target, "--", *args, use_pantsd=True)
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
    assert "FAIL" not in result.stdout, result.stdout
    return result.stdout


def test_default_guest_is_container_like_and_locked_down(repo: RepoCopy, host_server: int) -> None:
    out = _probe(repo, "testprojects/c/guest_probe:image", "--host-port", str(host_server))
    assert "ok hostname: hostname=image resolves to 10.0.2.15" in out
    assert "ok user: uid=1000 name=app home=/app" in out
    assert "ok no capabilities: CapEff=0000000000000000" in out
    assert "ok root read-only" in out
    assert "ok host loopback unreachable" in out


def test_outbound_still_rejects_the_host_loopback_and_zone_and_ca_on_request(repo: RepoCopy, host_server: int) -> None:
    target = _image(
        repo, "outbound", network='"outbound"', hostname='"web-1"', timezone='"Europe/Paris"',
        ca_certificates="True",
    )
    out = _probe(repo, target, "--host-port", str(host_server), "--expect-tz", "CET", "--expect-ca-bundle")
    assert "ok hostname: hostname=web-1" in out
    assert "ok time zone: TZ=Europe/Paris zones CET/CEST" in out
    assert "ok CA bundle" in out
    assert "ok host loopback unreachable" in out


def test_root_and_host_network_are_opt_ins(repo: RepoCopy, host_server: int) -> None:
    target = _image(repo, "root_host", user='"root"', network='"host"', writable_paths='["/"]')
    out = _probe(
        repo, target, "--expect-user", "root", "--host-port", str(host_server), "--expect-host-reachable",
        "--expect-writable-root",
    )
    assert "ok host loopback reachable" in out
    assert "ok user: uid=0 name=root" in out
    assert "ok root writable" in out


def test_volume_keeps_data_across_boots(repo: RepoCopy) -> None:
    target = _image(repo, "volume", volumes='{"/data": "16MiB"}')
    first = _probe(repo, target, "--counter", "/data/count")
    second = _probe(repo, target, "--counter", "/data/count")
    assert "counter=1" in first, first
    assert "counter=2" in second, second
    # The data lives outside the build's outputs: a new package of the image changes nothing.
    result = repo.run("package", target, use_pantsd=True)
    result.assert_success()
    assert not any("vol0" in p.name for p in repo.bundle("testprojects.guest.volume/image").iterdir())


BAD = {
    "relative_command": ('command=["server"]', ["The `command` field of testprojects/guest/bad:relative_command", "on none of the image's `PATH`"]),
    "dot_command": ('command=["./guest_probe"]', ["a relative path", "`/app/guest_probe`"]),
    "missing_command": ('command=["/app/nope"]', ["runs '/app/nope', which is not a file of the image"]),
    "volume_relative": ('volumes={"data": "64M"}', ["The `volumes` field of testprojects/guest/bad:volume_relative", "not an absolute"]),
    "volume_root": ('volumes={"/": "64M"}', ["is the root"]),
    "volume_over_app": ('volumes={"/app": "64M"}', ["would hide the image's own file /app/guest_probe"]),
    "volume_size": ('volumes={"/data": "lots"}', ["not a size between 8 MiB and 16 TiB"]),
    "network": ('network="bridge"', ["The `network` field of testprojects/guest/bad:network is 'bridge'", "'isolated', 'outbound', 'host', 'none'"]),
    "user": ('user="Root!"', ["The `user` field of testprojects/guest/bad:user is 'Root!'", 'user="root"']),
    "none_with_ports": ('network="none", ports=["8080"]', ['sets `network="none"`', "Remove `ports`"]),
}


def test_bad_fields_are_clear_errors_and_do_not_break_other_targets(repo: RepoCopy) -> None:
    repo.write(
        "testprojects/guest/bad/BUILD",
        "".join(
            f'unikernel_image(name="{name}", dependencies=["{PROBE}"], {fields})\n'
            for name, (fields, _) in BAD.items()
        )
        # Values that used to fail when the BUILD file was read (and broke every target):
        + textwrap.dedent(
            f"""\
            unikernel_image(name="memory", dependencies=["{PROBE}"], memory="lots")
            unikernel_image(name="ports", dependencies=["{PROBE}"], ports=["http"])
            """
        ),
    )
    # Lazy validation: the good image builds although the same repository has broken ones.
    repo.run("package", "testprojects/c/guest_probe:image", use_pantsd=True).assert_success()
    for name, (_, expect) in BAD.items():
        fails_with(repo, "package", f"testprojects/guest/bad:{name}", expect=expect, use_pantsd=True)
    fails_with(repo, "package", "testprojects/guest/bad:memory", expect=["not a memory size"], use_pantsd=True)
    fails_with(repo, "package", "testprojects/guest/bad:ports", expect=["not a TCP port"], use_pantsd=True)
