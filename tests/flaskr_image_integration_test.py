"""testprojects/python/flaskr (Flask's tutorial app, unchanged): package, boot, register a user
and log in over HTTP through the forwarded port; reboot and log in again (the database is on a
volume)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Iterator

import pytest

from browser import Browser
from pants_repo import RepoCopy
from unikernel_rules.qemu import launcher

IMAGE = "testprojects/python/flaskr:image"
BUNDLE = "testprojects.python.flaskr/image"
# Each password hash is scrypt (n=2**15, r=8): seconds of guest CPU under TCG.
BOOT_TIMEOUT_S = 420
DONE_PATH = "/hello?session-done"


def boot_and(bundle, session, volumes_dir) -> launcher.BootResult:  # noqa: ANN001
    """Boot the bundle; run `session(browser)` once flaskr serves; then stop the VM (the ready
    pattern is the request line Werkzeug logs for DONE_PATH). The volumes live in
    `volumes_dir` (as `pants run` keeps them in `[unikernel-run].state_dir`)."""
    port = launcher.free_port()
    results = []
    vm = threading.Thread(
        target=lambda: results.append(
            launcher.boot(
                str(bundle),
                ports=[(port, 8080)],
                accel="tcg",
                ready=r"GET /hello\?session-done",
                stop_after_ready=True,
                timeout=BOOT_TIMEOUT_S,
                quiet=True,
                volumes_dir=str(volumes_dir),
            )
        ),
        daemon=True,
    )
    vm.start()
    browser = Browser(port)
    try:
        browser.wait_until_serving(vm.is_alive, time.monotonic() + BOOT_TIMEOUT_S)
        session(browser)
    finally:
        try:
            browser.request(DONE_PATH, timeout=30)
        except (OSError, http.client.HTTPException):
            pass  # the launcher stops the VM as soon as flaskr logs this request
        vm.join(BOOT_TIMEOUT_S)
    assert results, "the launcher did not return"
    return results[0]


def log_in(browser: Browser) -> None:
    status, location, body = browser.request("/auth/login", {"username": "alice", "password": "s3cret"})
    assert (status, location) == (302, "/"), (status, location, body)
    status, _, body = browser.request("/")
    assert status == 200 and "<span>alice</span>" in body and "Log Out" in body, body


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("flaskr") / "repo")
    yield repo
    repo.cleanup()


def test_register_log_in_reboot_log_in_again(repo: RepoCopy, tmp_path) -> None:
    repo.run("package", IMAGE).assert_success()
    bundle = repo.bundle(BUNDLE)
    manifest = json.loads((bundle / "manifest.json").read_text())
    # The estimate counts scrypt's 32 MiB for one password hash, and the image has room for it.
    assert manifest["memory_needed_mib"] >= 64, manifest
    assert manifest["memory_mib"] >= manifest["memory_needed_mib"], manifest

    def first(browser: Browser) -> None:
        status, _, body = browser.request("/auth/register")
        assert status == 200 and "Register" in body, body  # templates/ came with the package
        assert browser.request("/static/style.css")[0] == 200  # and static/
        status, location, body = browser.request("/auth/register", {"username": "alice", "password": "s3cret"})
        assert (status, location) == (302, "/auth/login"), (status, location, body)
        log_in(browser)

    result = boot_and(bundle, first, tmp_path / "volumes")
    assert "Initialized the database" in result.output, result.output
    assert result.stopped_after_ready, result.output

    assert [v["path"] for v in manifest["volumes"]] == ["/opt/app/var/flaskr-instance"], manifest

    def second(browser: Browser) -> None:
        log_in(browser)  # alice is still in the database
        status, _, body = browser.request("/auth/register", {"username": "alice", "password": "x"})
        assert status == 200 and "User alice is already registered." in body, body

    result = boot_and(bundle, second, tmp_path / "volumes")
    assert "Initialized the database" not in result.output, result.output
    assert result.stopped_after_ready, result.output
