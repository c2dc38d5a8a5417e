"""The `container` format and `pants run --unikernel-run-format=container`, against a real
Docker engine (Debian's dockerd, started here on its own socket, data root and exec root,
without networking setup, stopped by pid) and an independent OCI client (skopeo).

- container.tar is an OCI image layout (skopeo reads it; its manifest and config digests are the
  ones the image's manifest.json names) whose single layer holds the same files, byte for byte,
  as the VM's root (the squashfs root of the Python image, the initramfs of the C image);
- each example runs in the engine and answers HTTP as its VM does; Ctrl-C stops it (130) and
  removes the container;
- the app's stdout/stderr byte for byte, exit status, image args and their replacement, the
  run timeout (124) and volumes (directories that outlive the container) behave as in the VM;
- flaskr (Flask's tutorial app, unchanged) registers a user and finds it again in a new
  container (its volume is a directory that outlives the container);
- bad inputs: no engine at the address (one paragraph naming it), an image built without the
  format, a run option only a VM has, an image that needs its own kernel (`kernel_args`, kernel
  `fragments`: a container runs on the engine's kernel).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from browser import Browser
from docker_engine import EngineApi, dockerd
from image_trees import disk_tree, files_only, unpack_initrd, unpack_rootfs
from pants_repo import RepoCopy, interrupt
from unikernel_rules.qemu import launcher

C_IMAGE = "testprojects/c/hello_http:image"
PY_IMAGE = "testprojects/python/hello_http:image"
JAVA_IMAGE = "testprojects/java/hello_http:image"
PROBE = "testprojects/c/run_probe:image"
PROBE_WITH_ARGS = "testprojects/c/run_probe:with_args"
CONTAINER = "--unikernel-run-format=container"


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineApi]:
    with dockerd() as api:
        yield api


@pytest.fixture(scope="module")
def docker_host(engine: EngineApi) -> str:
    return engine.docker_host


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("containers") / "repo")
    repo.run("package", C_IMAGE, PY_IMAGE, JAVA_IMAGE, PROBE, PROBE_WITH_ARGS).assert_success()
    yield repo
    repo.cleanup()


def bundle_of(repo: RepoCopy, image: str) -> Path:
    path, name = image.split(":")
    return repo.bundle(f"{path.replace('/', '.')}/{name}")


def container_entry(repo: RepoCopy, image: str) -> Tuple[Path, dict, dict]:
    bundle = bundle_of(repo, image)
    manifest = json.loads((bundle / "manifest.json").read_text())
    return bundle, manifest, manifest["formats"]["container"]


def layer_tree(tarball: Path) -> Dict[str, Tuple[str, object]]:
    """path -> ("file", sha256) | ("link", target) | ("dir", None) of the single layer."""
    with tarfile.open(tarball) as outer:
        (docker_manifest,) = json.loads(outer.extractfile("manifest.json").read())
        (layer_path,) = docker_manifest["Layers"]
        layer = gzip.decompress(outer.extractfile(layer_path).read())
    tree: Dict[str, Tuple[str, object]] = {}
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        for m in tar.getmembers():
            if m.isfile():
                tree[m.name] = ("file", hashlib.sha256(tar.extractfile(m).read()).hexdigest())
            elif m.issym():
                tree[m.name] = ("link", m.linkname)
            else:
                tree[m.name] = ("dir", None)
    return tree


@pytest.mark.parametrize("image", [C_IMAGE, PY_IMAGE, JAVA_IMAGE])
def test_an_oci_layout_of_the_vms_root_tree(repo: RepoCopy, image: str, tmp_path: Path) -> None:
    bundle, manifest, entry = container_entry(repo, image)
    tarball = bundle / entry["file"]
    assert manifest["files"]["container.tar"]["size"] == tarball.stat().st_size == entry["size"]
    # An independent client reads it as an OCI layout, with the digests the manifest names.
    raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci-archive:{tarball}"], capture_output=True, check=True).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == entry["manifest_digest"]
    config = subprocess.run(
        ["skopeo", "inspect", "--config", "--raw", f"oci-archive:{tarball}"], capture_output=True, check=True
    ).stdout
    assert "sha256:" + hashlib.sha256(config).hexdigest() == entry["config_digest"]
    cfg = json.loads(config)["config"]
    assert cfg["ExposedPorts"] == {"8080/tcp": {}}
    assert cfg["User"] == f"{manifest['user']['uid']}:{manifest['user']['gid']}"
    assert cfg["Labels"]["dev.unikernel-rules.runtime"] == manifest["runtime"]

    # The same files, byte for byte, as the VM's root.
    layer = layer_tree(tarball)
    vm_root = tmp_path / "vm-root"
    if manifest["root"]["kind"] == "disk":
        unpack_rootfs(bundle, vm_root)
        drop = ()
    else:
        unpack_initrd(bundle, vm_root)
        drop = ("init", ".uk")  # the initramfs's own: PID 1 and its configuration
    assert files_only(layer) == files_only(disk_tree(vm_root), drop)
    assert files_only(layer), "the layer holds no files"


def wait_for_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 420) -> Tuple[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no answer on port {port} after {timeout} s")


@pytest.mark.parametrize("image,path", [(C_IMAGE, "/"), (PY_IMAGE, "/hello"), (JAVA_IMAGE, "/hello")])
def test_runs_in_docker_and_answers_like_the_vm(repo: RepoCopy, engine: EngineApi, docker_host: str, image: str, path: str) -> None:
    port = launcher.free_port()
    # The engine has no bridge (dockerd --bridge=none): the container shares the host's
    # network, so the app is told its port (each example takes it as its first argument).
    proc = repo.popen("run", CONTAINER, image, "--", str(port), extra_env={"DOCKER_HOST": docker_host}, bootstrap=True)
    try:
        status, body = wait_for_http(port, path, proc)
        assert status == 200
        # What the VM answers (tests/*_image_integration_test.py check the same).
        if image == C_IMAGE:
            assert body == "Hello from a unikernel!\n"
        elif image == PY_IMAGE:
            assert body == "Hello from a Python unikernel! /hello visits=1\n"
        else:
            answer = json.loads(body)
            assert answer["message"] == "hello from a Java unikernel" and answer["path"] == "/hello", answer
            assert answer["timestamp"] == "1970-01-01T00:00:00Z" and answer["jdbc_drivers"] == 0, answer
        assert len(engine.our_containers()) == 1
        interrupt(proc)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.decode(errors="replace")
    assert "unikernel: stopped by signal 2; the container was stopped" in text, text[-3000:]
    assert "no bridge network" in text, text[-3000:]
    assert proc.returncode == 130, text[-3000:]
    assert engine.our_containers() == []


def test_stdio_exit_status_and_args(repo: RepoCopy, engine: EngineApi, docker_host: str) -> None:
    env = {"DOCKER_HOST": docker_host}
    result = repo.run("run", CONTAINER, PROBE, "--", "print", "200", "3", extra_env=env)
    assert result.exit_code == 3, result.stderr[-3000:]
    out = "".join(f"out {i}: the quick brown fox jumps over the lazy dog\n" for i in range(200)) + "stdout end, no newline"
    err = "".join(f"err {i}: pack my box with five dozen liquor jugs\n" for i in range(200)) + "stderr end, no newline"
    assert result.stdout == out
    assert err in result.stderr
    # The image's `args` come first; `--unikernel-run-replace-args` replaces them.
    result = repo.run("run", CONTAINER, PROBE_WITH_ARGS, "--", "more", extra_env=env)
    assert result.exit_code == 0 and result.stdout == "from-image\nmore\n", result.stderr[-3000:]
    result = repo.run("run", CONTAINER, "--unikernel-run-replace-args", PROBE_WITH_ARGS, "--", "args", "only", extra_env=env)
    assert result.exit_code == 0 and result.stdout == "only\n", result.stderr[-3000:]
    assert engine.our_containers() == []


def test_timeout_stops_the_container(repo: RepoCopy, engine: EngineApi, docker_host: str) -> None:
    result = repo.run("run", CONTAINER, "--unikernel-run-timeout=3", PROBE, "--", "hang", extra_env={"DOCKER_HOST": docker_host})
    assert result.exit_code == 124, result.stderr[-3000:]
    assert "stopped the container after 3 s" in result.stderr
    assert engine.our_containers() == []


def test_volumes_outlive_the_container(repo: RepoCopy, docker_host: str) -> None:
    repo.write(
        "testprojects/containers/vol/BUILD",
        """\
        unikernel_image(
            name="image",
            dependencies=["//testprojects/c/run_probe:app"],
            volumes={"/var/lib/app": "16MiB"},
            memory=64,
            formats=["bundle", "container"],
        )
        """,
    )
    target = "testprojects/containers/vol:image"
    env = {"DOCKER_HOST": docker_host}
    for expected in ("count=1\n", "count=2\n"):
        result = repo.run("run", CONTAINER, target, "--", "count", "/var/lib/app/count", extra_env=env)
        assert result.exit_code == 0 and result.stdout == expected, result.stderr[-3000:]
    kept = repo.root / ".unikernel/volumes/testprojects/containers/vol/image/container"
    (volume,) = kept.iterdir()
    assert (volume / "count").read_text().count("\n") == 2
    result = repo.run("run", CONTAINER, "--unikernel-run-wipe-volumes", target, "--", "count", "/var/lib/app/count", extra_env=env)
    assert result.stdout == "count=1\n", result.stderr[-3000:]


def test_no_engine_at_the_address(repo: RepoCopy, tmp_path: Path) -> None:
    address = f"unix://{tmp_path}/no-engine.sock"
    result = repo.run("run", CONTAINER, PROBE, "--", "print", "1", "0", extra_env={"DOCKER_HOST": address})
    assert result.exit_code == 1, result.stderr[-3000:]
    assert f"cannot reach a Docker engine at {address}" in result.stderr
    assert "DOCKER_HOST" in result.stderr and "--unikernel-run-docker-host" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_image_without_the_format_and_a_vm_only_option(repo: RepoCopy) -> None:
    repo.write("testprojects/containers/vm_only/BUILD", 'unikernel_image(name="image", dependencies=["//testprojects/c/run_probe:app"], memory=64)\n')
    result = repo.run("run", CONTAINER, "testprojects/containers/vm_only:image")
    assert result.exit_code != 0
    assert "testprojects/containers/vm_only:image was built without the `container` format (it built bundle)" in result.stderr
    assert '`formats=["bundle", "container"]`' in result.stderr
    result = repo.run("run", CONTAINER, "--unikernel-run-kernel-args=loglevel=7", PROBE)
    assert result.exit_code != 0
    assert "runs no VM, so `[unikernel-run].kernel_args` cannot apply" in result.stderr, result.stderr[-3000:]


def test_an_image_that_needs_its_own_kernel(repo: RepoCopy, docker_host: str) -> None:
    """A container runs on the engine's kernel: an image whose `kernel_args` or kernel
    `fragments` ask its own kernel for something is refused before any build, naming the field;
    parameters of the kernel's log alone are ignored with a note."""
    probe = "//testprojects/c/run_probe:app"
    repo.write("testprojects/containers/own_kernel/io.config", "CONFIG_IO_URING=y\n")
    repo.write(
        "testprojects/containers/own_kernel/BUILD",
        f"""
        unikernel_kernel(name="linux", source_package="linux-source-6.1", fragments=["io.config"])
        unikernel_image(name="params", dependencies=["{probe}"], memory=64, formats=["bundle", "container"],
                        kernel_args=["loglevel=7", "mitigations=off"])
        unikernel_image(name="fragments", dependencies=["{probe}"], memory=64, formats=["bundle", "container"],
                        kernel=":linux")
        unikernel_image(name="log_only", dependencies=["{probe}"], memory=64, formats=["bundle", "container"],
                        kernel_args=["loglevel=7", "printk.time=1"])
        """,
    )
    env = {"DOCKER_HOST": docker_host}
    result = repo.run("run", CONTAINER, "testprojects/containers/own_kernel:params", extra_env=env)
    assert result.exit_code != 0
    assert (
        "cannot run testprojects/containers/own_kernel:params as a container: its `kernel_args` field sets "
        "`mitigations=off`, kernel parameters its VM boots with." in result.stderr
    ), result.stderr[-3000:]
    assert "runs on the Docker engine's kernel" in result.stderr and "Traceback" not in result.stderr
    result = repo.run("run", CONTAINER, "testprojects/containers/own_kernel:fragments", extra_env=env)
    assert result.exit_code != 0
    assert (
        "its kernel testprojects/containers/own_kernel:linux enables what its own Kconfig `fragments` "
        "(testprojects/containers/own_kernel/io.config) ask for" in result.stderr
    ), result.stderr[-3000:]
    # Refused before the build: no kernel with that fragment was compiled.
    assert "Building the Linux" not in result.stderr
    result = repo.run("run", CONTAINER, "testprojects/containers/own_kernel:log_only", "--", "print", "1", "5", extra_env=env)
    assert result.exit_code == 5, result.stderr[-3000:]
    assert result.stdout == "out 0: the quick brown fox jumps over the lazy dog\nstdout end, no newline"
    assert "the image's `kernel_args` loglevel=7 printk.time=1 only shape the VM kernel's log: ignored" in result.stderr


def test_flaskr_a_real_app_keeps_its_database_across_containers(repo: RepoCopy, engine: EngineApi, docker_host: str) -> None:
    """Flask's tutorial app, unchanged (the VM's test: tests/flaskr_image_integration_test.py):
    register and log in; a new container finds the user in its volume's database."""
    port = launcher.free_port()
    build = repo.root / "testprojects/python/flaskr/BUILD"
    # This copy's image also lists the container format, and gives flaskr's launcher its port
    # (it reads PORT): the engine has no bridge, so the container listens on the host's network.
    text = build.read_text()
    assert '    ports=["8080"],\n' in text
    build.write_text(text.replace(
        '    ports=["8080"],\n', f'    ports=["8080"],\n    formats=["bundle", "container"],\n    env={{"PORT": "{port}"}},\n', 1
    ))
    image = "testprojects/python/flaskr:image"

    def session(check) -> str:  # noqa: ANN001
        proc = repo.popen("run", CONTAINER, image, extra_env={"DOCKER_HOST": docker_host}, bootstrap=True)
        try:
            browser = Browser(port)
            browser.wait_until_serving(lambda: proc.poll() is None, time.monotonic() + 420, path="/auth/login")
            check(browser)
            interrupt(proc)
            out, _ = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, out.decode(errors="replace")[-3000:]
        return out.decode(errors="replace")

    def log_in(browser: Browser) -> None:
        status, location, body = browser.request("/auth/login", {"username": "alice", "password": "s3cret"})
        assert (status, location) == (302, "/"), (status, location, body)
        status, _, body = browser.request("/")
        assert status == 200 and "<span>alice</span>" in body, body

    def first(browser: Browser) -> None:
        assert browser.request("/static/style.css")[0] == 200
        status, location, body = browser.request("/auth/register", {"username": "alice", "password": "s3cret"})
        assert (status, location) == (302, "/auth/login"), (status, location, body)
        log_in(browser)

    assert "Initialized the database" in session(first)
    out = session(log_in)
    assert "Initialized the database" not in out, out[-3000:]
    assert engine.our_containers() == []
