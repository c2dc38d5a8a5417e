"""`pants package` + boot of testprojects/java/hello_http, and real-world jars: a jar's manifest
`Main-Class`, optional dependencies absent, multi-release jars, and the JVM short of memory."""

from __future__ import annotations

import json

from typing import Iterator

import pytest

from pants_repo import RepoCopy
from unikernel_rules.qemu import launcher

IMAGE = "testprojects/java/hello_http:image"
BUNDLE = "testprojects.java.hello_http/image"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("java-image") / "repo")
    yield repo
    repo.cleanup()


def test_package_boot_and_fetch(repo: RepoCopy) -> None:
    repo.run("package", IMAGE).assert_success()
    bundle = repo.bundle(BUNDLE)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["runtime"] == "java"
    assert manifest["root"]["kind"] == "disk"
    # jdeps found exactly these: java.sql (Timestamp, DriverManager; it brings java.logging),
    # jdk.httpserver; jackson-core (a multi-release jar) needs only java.base. jdk.crypto.ec is
    # the default service module (`[unikernel-java].service_modules`: TLS with EC keys).
    assert manifest["app"]["jdk_modules"] == "java.base,java.sql,jdk.crypto.ec,jdk.httpserver", manifest["app"]
    assert manifest["app"]["main_class"] == "example.Main"
    assert manifest["app"]["classpath"] == "app.jar:lib/jackson-core-2.17.2.jar"  # from /app
    for name, entry in manifest["files"].items():
        assert entry["size"] == (bundle / name).stat().st_size

    port = launcher.free_port()
    result = launcher.boot(
        str(bundle),
        ports=[(port, 8080)],
        accel="tcg",
        ready=r"READY",
        stop_after_ready=True,
        http_get="8080/hello",
        timeout=180,
        quiet=True,
    )
    assert result.ready_line and "java=17.0." in result.ready_line, result.output
    assert result.http_status == 200, result.output
    body = json.loads(result.http_body)
    # jackson-core (multi-release jar) wrote it; java.sql's Timestamp and DriverManager ran.
    assert body["message"] == "hello from a Java unikernel" and body["path"] == "/hello", body
    assert body["timestamp"] == "1970-01-01T00:00:00Z" and body["jdbc_drivers"] == 0, body


def test_main_class_from_a_jar_manifest_and_its_classes_from_cds(repo: RepoCopy) -> None:
    # No sources: the app is a prebuilt jar whose manifest names the Main-Class. Its references
    # to commons-lang3 and plexus-utils are for code paths this entry point does not take.
    # -Xshare:on makes the JVM fail if the build-time CDS archive cannot be used.
    image = repo.write_java_app(
        "testprojects/javarun/manifest_main",
        {},
        program=(
            'dependencies=["3rdparty/jvm:maven-artifact"], ignore_missing_deps=True, cds=True, '
            'jvm_options=["-Xshare:on", "-Xlog:class+load=info:stdout"]'
        ),
        image='args=["1.0", "1.0.1"], memory=128',
    )
    result = repo.run("run", image)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "1.0 < 1.0.1" in result.stdout, result.stdout
    # The jar's classes come from the archive dumped at build time, not from the jar.
    main = "org.apache.maven.artifact.versioning.ComparableVersion source: shared objects file"
    assert main in result.stdout, result.stdout


def test_jar_with_absent_optional_dependencies_and_a_hand_added_module(repo: RepoCopy) -> None:
    image = repo.write_java_app(
        "testprojects/javarun/optional",
        {
            "src/demo/Main.java": """\
            package demo;
            import org.apache.commons.logging.Log;
            import org.apache.commons.logging.LogFactory;
            public class Main {
                public static void main(String[] args) {
                    Log log = LogFactory.getLog(Main.class);
                    log.info("commons-logging without Log4j");
                    System.out.println("OPTIONAL-OK " + log.getClass().getName());
                    // The SunEC provider is found by a service loader, so jdeps cannot see it:
                    // it is in the image only because `jdk_modules` names jdk.crypto.ec.
                    try {
                        java.security.KeyPairGenerator.getInstance("EC").generateKeyPair();
                        System.out.println("EC-OK");
                    } catch (java.security.GeneralSecurityException e) {
                        System.out.println("EC-MISSING " + e);
                    }
                }
            }
            """,
        },
        program=(
            'main_class="demo.Main", dependencies=["3rdparty/jvm:commons-logging"], '
            'ignore_missing_deps=True, jdk_modules=["jdk.crypto.ec"]'
        ),
        image="memory=128",
    )
    result = repo.run("run", image)
    assert result.exit_code == 0, result.stdout + result.stderr
    # Log4j is absent, so commons-logging falls back to java.util.logging (module java.logging).
    assert "OPTIONAL-OK org.apache.commons.logging.impl.Jdk14Logger" in result.stdout, result.stdout
    assert "EC-OK" in result.stdout, result.stdout


def test_jvm_short_of_memory_says_raise_memory(repo: RepoCopy) -> None:
    image = repo.write_java_app(
        "testprojects/javarun/small",
        {
            "src/demo/Main.java": """\
            package demo;
            public class Main {
                public static void main(String[] args) {
                    byte[][] keep = new byte[64][];
                    for (int i = 0; i < keep.length; i++) keep[i] = new byte[1 << 20];
                    System.out.println("ALLOCATED " + keep.length + " MiB");
                }
            }
            """,
        },
        program='main_class="demo.Main"',
        image="memory=48",
    )
    result = repo.run("run", image)
    assert result.exit_code != 0, result.stdout + result.stderr
    console = result.stdout + result.stderr
    assert "ALLOCATED" not in console, console
    assert "out of memory" in console and "`memory` field" in console, console


def test_jvm_thrashing_at_boot_says_raise_memory(repo: RepoCopy) -> None:
    # Just below the JVM's floor (45-46 MiB) the guest does not OOM-kill the JVM: its code
    # pages are evicted and read back from the disk over and over, and it takes ~40 s or more
    # to become ready (measured at 40 MiB). init watches the kernel's memory pressure and
    # says what to do instead of staying silent (or the OOM killer strikes: also a message).
    repo.run("package", IMAGE).assert_success()
    result = launcher.boot(
        str(repo.bundle(BUNDLE)),
        no_ports=True,
        accel="tcg",
        memory_mib=40,
        ready=r"READY",
        stop_after_ready=True,
        timeout=150,
        quiet=True,
    )
    console = result.output + (result.message or "")
    assert "out of memory" in console.lower() and "`memory`" in console, console
