"""Bad inputs of Java images: one clear message each (no Python traceback from Pants)."""

from __future__ import annotations

from typing import Iterator

import pytest

from pants_repo import RepoCopy, fails_with

MAIN = {
    "src/demo/Main.java": """\
    package demo;
    public class Main {
        public static void main(String[] args) { System.out.println("hi"); }
    }
    """,
}
JACKSON_SHA256 = "721a189241dab0525d9e858e5cb604d3ecc0ede081e2de77d6f34fa5779a5b46"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("java-errors") / "repo")
    repo.write_java_app(
        "testprojects/javabad/syntax",
        {
            "src/demo/Main.java": """\
            package demo;
            public class Main {
                public static void main(String[] args) {
                    int x = "not a number";
                }
            }
            """,
        },
        program='main_class="demo.Main"',
    )
    repo.write_java_app("testprojects/javabad/nomain", MAIN)
    repo.write_java_app("testprojects/javabad/wrongmain", MAIN, program='main_class="demo.Mian"')
    repo.write_java_app(
        "testprojects/javabad/missingjar",
        MAIN,
        program='main_class="demo.Main", dependencies=[":lib"]',
    )
    repo.write(
        "testprojects/javabad/missingjar/BUILD",
        (repo.root / "testprojects/javabad/missingjar/BUILD").read_text()
        + f'java_jar(name="lib", jar="libs/absent.jar", sha256="{JACKSON_SHA256}")\n',
    )
    repo.write_java_app(
        "testprojects/javabad/badsha",
        MAIN,
        program='main_class="demo.Main", dependencies=[":lib"]',
    )
    repo.write(
        "testprojects/javabad/badsha/BUILD",
        (repo.root / "testprojects/javabad/badsha/BUILD").read_text()
        + 'java_jar(name="lib", coordinate="com.fasterxml.jackson.core:jackson-core:2.17.2", sha256="'
        + "0" * 64
        + '")\n',
    )
    repo.write_java_app(
        "testprojects/javabad/unresolved",
        MAIN,
        program='main_class="demo.Main", dependencies=["3rdparty/jvm:commons-logging"]',
    )
    repo.write_java_app(
        "testprojects/javabad/module", MAIN, program='main_class="demo.Main", jdk_modules=["java.sqll"]'
    )
    yield repo
    repo.cleanup()


def test_javac_error_shows_file_and_line(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/javabad/syntax:image",
        expect=[
            "javac failed to compile testprojects/javabad/syntax:app",
            "testprojects/javabad/syntax/src/demo/Main.java:4: error: incompatible types",
        ],
    )


def test_main_class_missing(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/javabad/nomain:image",
        expect=["testprojects/javabad/nomain:app has no `main_class`", "Main-Class", 'main_class="example.Main"'],
    )


def test_main_class_not_found(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/javabad/wrongmain:image",
        expect=["The `main_class` field of testprojects/javabad/wrongmain:app is `demo.Mian`", "demo.Main"],
    )


def test_jar_file_missing(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/javabad/missingjar:image",
        expect=["testprojects/javabad/missingjar:lib", "testprojects/javabad/missingjar/libs/absent.jar", "does not exist"],
    )


def test_jar_with_the_wrong_sha256(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/javabad/badsha:image",
        expect=["testprojects/javabad/badsha:lib", "0" * 64, JACKSON_SHA256, f'sha256="{JACKSON_SHA256}"'],
    )


def test_jdeps_cannot_resolve_a_class(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/javabad/unresolved:image",
        expect=[
            "jdeps cannot resolve classes",
            "org.apache.commons.logging.impl.Log4JLogger -> org.apache.log4j.Logger",
            "`jdk_modules`",
            "add a `java_jar`",
            "ignore_missing_deps=True",
        ],
    )


def test_unknown_jdk_module(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/javabad/module:image",
        expect=["The `jdk_modules` field of testprojects/javabad/module:app", "java.sqll", "java.sql"],
    )
