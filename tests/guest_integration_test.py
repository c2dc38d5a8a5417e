"""The container-grade guest of docs/guest.md, checked from inside a booted image by
testprojects/c/guest_probe, and the bad inputs of its fields (issue 10, scope 1, 3, 5, 10)."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import textwrap
import threading
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from pants_repo import RepoCopy, fails_with

PROBE = "//testprojects/c/guest_probe:app"
HTTPS_PROBE = "//testprojects/python/https_probe:app"
JAVA_HTTPS_PROBE = "//testprojects/java/https_probe:app"


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


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def https_server(tmp_path_factory) -> Iterator[Tuple[int, str]]:
    """An HTTPS server on the host's 127.0.0.1 (the guest's 10.0.2.2 under `network="host"`)
    whose certificate a fresh test CA signed: (port, the CA's PEM)."""
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(d, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=unikernel_rules test CA")
    _openssl(d, "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=10.0.2.2")
    (d / "ext.cnf").write_text("subjectAltName=IP:10.0.2.2\nbasicConstraints=CA:FALSE\n")
    _openssl(
        d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf",
    )

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello over TLS"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "server.crt", d / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], (d / "ca.crt").read_text()
    server.shutdown()
    server.server_close()


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


def test_https_clients_trust_debians_cas_and_the_images_own(repo: RepoCopy, https_server: Tuple[int, str]) -> None:
    port, ca = https_server
    url = f"https://10.0.2.2:{port}/"
    repo.write("testprojects/guest/https/test-ca.crt", ca)
    repo.write(
        "testprojects/guest/https/BUILD",
        f"""\
        # The image's own CA, where Debian's update-ca-certificates takes local ones from.
        unikernel_files(name="ca", sources=["test-ca.crt"], destination="/usr/local/share/ca-certificates")
        unikernel_image(name="image", dependencies=["{HTTPS_PROBE}", ":ca"], network="host")
        unikernel_image(name="debian_only", dependencies=["{HTTPS_PROBE}"], network="host")
        unikernel_image(name="java", dependencies=["{JAVA_HTTPS_PROBE}", ":ca"], network="host")
        # Bad input: a DER file where only PEM certificates are taken.
        unikernel_files(name="der", sources=["der.crt"], destination="/usr/local/share/ca-certificates")
        unikernel_image(name="bad_ca", dependencies=["{HTTPS_PROBE}", ":der"])
        """,
    )
    (repo.root / "testprojects/guest/https/der.crt").write_bytes(b"\x30\x82\x01\x0a")
    # Python's urllib/ssl in the guest: TLS handshake, certificate chain and IP SAN checked
    # against the bundle (SSL_CERT_FILE), validity against the guest's clock.
    out = _probe(repo, "testprojects/guest/https:image", f"get={url}")
    assert f"GOT {url} 200 'hello over TLS'" in out, out
    # Java (java.net.http): the same certificates as the JVM's trust store (JKS), and TLS with
    # an elliptic-curve key (jdk.crypto.ec, a default service module).
    out = _probe(repo, "testprojects/guest/https:java", f"get={url}")
    assert f"GOT {url} 200 'hello over TLS'" in out, out
    # Debian's bundle alone does not trust the test CA: the check is real.
    result = repo.run("run", "testprojects/guest/https:debian_only", "--", f"get={url}", use_pantsd=True)
    assert result.exit_code == 1, result.stderr[-3000:]
    assert "CERTIFICATE_VERIFY_FAILED" in result.stdout, result.stdout
    fails_with(
        repo, "package", "testprojects/guest/https:bad_ca", use_pantsd=True,
        expect=["/usr/local/share/ca-certificates/der.crt of the image testprojects/guest/https:bad_ca", "openssl x509 -inform der"],
    )


def test_dns_lookups_of_internet_names_under_outbound(repo: RepoCopy) -> None:
    # QEMU's DNS forwarder (10.0.2.3, the guest's resolv.conf) asks the host's resolver: an
    # internet name resolves in the guest as it does on the host.
    name = "pypi.org"
    try:
        host_addresses = {info[4][0] for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)}
    except OSError as e:
        pytest.skip(f"this host cannot resolve {name} ({e}): nothing for the guest to forward to")
    out = _probe(repo, "testprojects/python/https_probe:image", f"resolve={name}")
    line = next(line for line in out.splitlines() if line.startswith(f"RESOLVED {name} "))
    assert set(line.split()[2:]) & host_addresses, (line, host_addresses)


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
