"""The H2 database, a third-party app whose `jdeps` list includes java.desktop, in headless
images (testprojects/java/h2): its web console serves a page, and our JDBC program runs with
`InetAddress.getLocalHost()`; the runtime has none of the X11/sound/font libraries. Plus the
bad inputs of the headless/native-package fields (package only, no boot)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Iterator, List, Set, Tuple

import pytest

from pants_repo import RepoCopy, fails_with
from unikernel_rules.qemu import launcher

SERVER = "testprojects/java/h2:image"
SERVER_BUNDLE = "testprojects.java.h2/image"
JDBC = "testprojects/java/h2:jdbc-image"
READY = "Web Console server running at"
# H2's server as a `java_program` without sources (H2 refers to optional libraries it uses
# only when present), with `extra` fields.
H2_PROGRAM = 'main_class="org.h2.tools.Server", dependencies=["3rdparty/jvm:h2"], ignore_missing_deps=True, {}'
GUI_LIBRARIES = ("libawt_xawt.so", "libjawt.so", "libsplashscreen.so", "libjsound.so", "libfontmanager.so")


def _disk_files(image: Path) -> Set[str]:
    """The paths in a squashfs disk root, read by the host's `unsquashfs -l` (squashfs-tools)."""
    unsquashfs = shutil.which("unsquashfs")
    if not unsquashfs:
        pytest.skip("unsquashfs (Debian squashfs-tools) is not installed on this machine")
    out = subprocess.run([unsquashfs, "-l", "-d", "", str(image)], capture_output=True, text=True, check=True).stdout
    return {line.strip().lstrip("/") for line in out.splitlines() if line.startswith("/")}


def _init_conf(initrd: Path) -> str:
    """/.uk/init.conf (init's command line and settings) from a gzip'd newc cpio initrd."""
    data = gzip.decompress(initrd.read_bytes())
    offset = 0
    while offset + 110 <= len(data):
        header = data[offset : offset + 110]
        namesize, filesize = int(header[94:102], 16), int(header[54:62], 16)
        name_end = offset + 110 + namesize
        name = data[offset + 110 : name_end - 1].decode()
        start = (name_end + 3) & ~3
        if name == ".uk/init.conf":
            return data[start : start + filesize].decode()
        if name == "TRAILER!!!":
            break
        offset = (start + filesize + 3) & ~3
    raise AssertionError(f"no .uk/init.conf in {initrd}")


def _boot_and_get(bundle: Path, port: int, timeout_s: int = 240) -> Tuple[bool, str]:
    """Boot `bundle` forwarding `port` to the guest's 8082, wait for H2's ready line, GET `/`
    (90 s timeout), stop the VM. (Whether it got ready, the page or the console output.)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "unikernel_rules.qemu.launcher", "--bundle", str(bundle), "--accel", "tcg",
         "--timeout", str(timeout_s), "--port", f"{port}:8082"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    assert proc.stdout is not None
    console: List[str] = []
    try:
        for raw in iter(proc.stdout.readline, b""):
            console.append(raw.decode(errors="replace"))
            if READY in console[-1]:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=90) as response:
                        return True, response.read().decode(errors="replace")
                except OSError as e:
                    return True, f"GET failed: {e}\n" + "".join(console)
        return False, "".join(console)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the launcher stops QEMU on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("java-h2") / "repo")
    yield repo
    repo.cleanup()


def test_h2_web_console_serves_a_page_from_a_headless_runtime(repo: RepoCopy) -> None:
    repo.run("package", SERVER).assert_success()
    bundle = repo.bundle(SERVER_BUNDLE)
    manifest = json.loads((bundle / "manifest.json").read_text())
    app = manifest["app"]
    assert "java.desktop" in app["jdk_modules"].split(","), app
    assert app["headless"] == "yes", app
    for name in GUI_LIBRARIES:
        assert name in app["excluded_libraries"].split(","), app
    assert "arg -Djava.awt.headless=true\n" in _init_conf(bundle / "initrd"), _init_conf(bundle / "initrd")
    # No X11/sound/font library is in the image: neither the JDK's own AWT/sound/font
    # libraries nor any Debian library they would need.
    files = _disk_files(bundle / "rootfs.img")
    assert "opt/java/lib/libawt.so" in files and "opt/java/lib/server/libjvm.so" in files, sorted(files)[:50]
    for name in GUI_LIBRARIES:
        assert f"opt/java/lib/{name}" not in files, name
    for soname in ("libX11.so", "libxcb.so", "libasound.so", "libfreetype.so", "libharfbuzz.so", "libjpeg.so"):
        assert not [f for f in files if soname in f], soname

    # H2's first page takes ~10 s under TCG (the launcher's HTTP check waits 5 s per try):
    # boot with the launcher's command line and fetch the page ourselves once H2 is ready.
    port = launcher.free_port()
    ready, body = _boot_and_get(bundle, port)
    assert ready, body
    assert "<title>H2 Console</title>" in body, body[-4000:]


def test_h2_over_jdbc_with_get_local_host(repo: RepoCopy) -> None:
    result = repo.run("run", JDBC)
    console = result.stdout + result.stderr
    assert result.exit_code == 0, console[-6000:]
    line = next((l for l in result.stdout.splitlines() if l.startswith("H2-OK ")), "")
    assert line, console[-6000:]
    fields = dict(item.split("=", 1) for item in line.split()[1:])
    assert fields["rows"] == "3" and fields["h2"] == "2.3.232" and fields["beans"] == "3", line
    assert fields["headless"] == "true", line
    assert fields["host"] and fields["address"], line


def test_a_debian_package_not_in_the_lock(repo: RepoCopy) -> None:
    image = repo.write_java_app(
        "testprojects/javabad/notlocked",
        {"src/demo/Main.java": "package demo; public class Main { public static void main(String[] a) {} }\n"},
        program='main_class="demo.Main", debian_packages=["libfreetype6", "libnotlocked9"]',
    )
    text = fails_with(
        repo, "package", image,
        expect=[
            "The `debian_packages` field of testprojects/javabad/notlocked:app",
            "libnotlocked9",
            "`[debian-lock].packages`",
            "pants generate-lockfiles --resolve=debian",
        ],
    )
    assert "libfreetype6," not in text  # a locked package is not named as missing


def test_gui_runtime_lists_the_whole_missing_closure_with_java_advice(repo: RepoCopy) -> None:
    image = repo.write_java_app(
        "testprojects/javabad/gui",
        {},
        program=H2_PROGRAM.format('headless=False'),
    )
    text = fails_with(
        repo, "package", image,
        expect=[
            "The Java runtime of testprojects/javabad/gui:app needs shared libraries",
            "libX11.so.6, needed by /opt/java/lib/libawt_xawt.so: not in the Debian lock",
            "libx11-6",
            "libasound.so.2, needed by /opt/java/lib/libjsound.so: in the Debian lock's libasound2",
            "libfreetype.so.6, needed by /opt/java/lib/libfontmanager.so: in the Debian lock's libfreetype6",
            "sets `headless=False`",
            "the `debian_packages` field of testprojects/javabad/gui:app",
            "pants generate-lockfiles --resolve=debian",
        ],
    )
    # All at once: every X11 library of libawt_xawt.so, not just the first.
    for soname in ("libXext.so.6", "libXrender.so.1", "libXtst.so.6", "libXi.so.6"):
        assert soname in text, text


def test_excluded_jdk_modules_warn_or_fail(repo: RepoCopy) -> None:
    # java.desktop: H2's server never loads it, so excluding it is allowed, with a warning
    # that jdeps found it in use.
    image = repo.write_java_app(
        "testprojects/javarun/nodesktop",
        {},
        program=H2_PROGRAM.format('exclude_jdk_modules=["java.desktop"]'),
    )
    result = repo.run("package", image)
    result.assert_success()
    assert "`exclude_jdk_modules` leaves out java.desktop, which jdeps found" in result.stderr, result.stderr
    manifest = json.loads((repo.bundle("testprojects.javarun.nodesktop/image") / "manifest.json").read_text())
    assert "java.desktop" not in manifest["app"]["jdk_modules"].split(","), manifest["app"]
    assert manifest["app"]["headless"] == "no", manifest["app"]  # nothing to trim, no property
    # java.xml: java.sql requires it, so jlink would link it anyway: an error naming java.sql.
    image = repo.write_java_app(
        "testprojects/javabad/noxml",
        {},
        program=H2_PROGRAM.format('exclude_jdk_modules=["java.xml"]'),
    )
    fails_with(
        repo, "package", image,
        expect=["testprojects/javabad/noxml:app", "java.xml is excluded (`exclude_jdk_modules`)", "java.sql"],
    )


def test_debian_packages_bring_their_libraries_and_locked_dependencies(repo: RepoCopy) -> None:
    # A headless runtime (no font library of its own) plus FreeType for a JNI/JNA user: the
    # package's libraries and what they need (libpng, brotli: its locked dependencies) go in.
    image = repo.write_java_app(
        "testprojects/javarun/freetype",
        {},
        program=H2_PROGRAM.format('debian_packages=["libfreetype6"]'),
    )
    repo.run("package", image).assert_success()
    bundle = repo.bundle("testprojects.javarun.freetype/image")
    assert json.loads((bundle / "manifest.json").read_text())["app"]["debian_packages"] == "libfreetype6"
    files = _disk_files(bundle / "rootfs.img")
    for soname in ("libfreetype.so.6", "libpng16.so.16", "libbrotlidec.so.1"):
        assert f"usr/lib/x86_64-linux-gnu/{soname}" in files, sorted(files)
    assert "opt/java/lib/libfontmanager.so" not in files  # still headless
