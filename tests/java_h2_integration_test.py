"""The H2 database, a third-party app whose `jdeps` list includes java.desktop, in headless
images (testprojects/java/h2): its web console serves a page, and our JDBC program runs with
`InetAddress.getLocalHost()`; the runtime has none of the X11/sound/font libraries. Plus the
bad inputs of the headless/native-package fields (package only, no boot)."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from pants_repo import RepoCopy, fails_with
from unikernel_rules.qemu import launcher

SERVER = "testprojects/java/h2:image"
SERVER_BUNDLE = "testprojects.java.h2/image"
JDBC = "testprojects/java/h2:jdbc-image"
GUI_LIBRARIES = ("libawt_xawt.so", "libjawt.so", "libsplashscreen.so", "libjsound.so", "libfontmanager.so")


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
    assert "-Djava.awt.headless=true" in manifest["command"], manifest["command"]
    # No X11/sound/font library entered the image: the runtime's ELF closure came from the
    # JDK's base packages only (the disk root's file list is in the manifest's layers).
    listing = json.dumps(manifest)
    for soname in ("libX11.so", "libasound.so", "libfreetype.so", "libawt_xawt.so", "libjsound.so"):
        assert soname not in listing.replace('"excluded_libraries": "' + app["excluded_libraries"], ""), soname

    port = launcher.free_port()
    result = launcher.boot(
        str(bundle),
        ports=[(port, 8082)],
        accel="tcg",
        ready=r"Web Console server running at",
        stop_after_ready=True,
        http_get="8082/",
        timeout=240,
        quiet=True,
    )
    assert result.ready_line, result.output
    assert result.http_status == 200, (result.http_error, result.output[-4000:])
    assert "H2 Console" in (result.http_body or ""), result.http_body


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
        program=(
            'main_class="org.h2.tools.Server", dependencies=["3rdparty/jvm:h2"], '
            "ignore_missing_deps=True, headless=False"
        ),
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
