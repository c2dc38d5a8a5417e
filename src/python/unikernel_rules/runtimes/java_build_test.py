from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from unikernel_rules.runtimes import java_build
from unikernel_rules.runtimes.java_build import JavaBuildError


def _jar(path: Path, manifest: str = "", entries: tuple = ()) -> str:
    with zipfile.ZipFile(path, "w") as z:
        if manifest:
            z.writestr("META-INF/MANIFEST.MF", manifest)
        for name in entries:
            z.writestr(name, b"\xca\xfe\xba\xbe")
    return str(path)


def _spec(tmp_path: Path, jars: list, main_class=None) -> dict:
    return {
        "program": "//demo:app",
        "main_class": main_class,
        "jars": [{"path": p, "name": Path(p).name, "label": f"//3rdparty:{Path(p).stem}"} for p in jars],
    }


def test_manifest_main_class_unfolds_continuation_lines(tmp_path: Path) -> None:
    long_name = "org.example." + "very" * 20 + ".Main"
    folded = f"Manifest-Version: 1.0\r\nMain-Class: {long_name[:60]}\r\n {long_name[60:]}\r\n\r\n"
    assert java_build.manifest_main_class(_jar(tmp_path / "a.jar", folded)) == long_name
    assert java_build.manifest_main_class(_jar(tmp_path / "b.jar", "Manifest-Version: 1.0\n")) is None
    assert java_build.manifest_main_class(_jar(tmp_path / "c.jar")) is None


def test_main_class_from_the_one_jar_that_names_one(tmp_path: Path) -> None:
    classes = tmp_path / "classes"
    classes.mkdir()
    jars = [
        _jar(tmp_path / "tool.jar", "Main-Class: org.tool.Cli\n", ("org/tool/Cli.class",)),
        _jar(tmp_path / "lib.jar", "Manifest-Version: 1.0\n"),
    ]
    assert java_build.choose_main_class(_spec(tmp_path, jars), str(classes)) == "org.tool.Cli"


def test_main_class_errors(tmp_path: Path) -> None:
    classes = tmp_path / "classes"
    (classes / "demo").mkdir(parents=True)
    (classes / "demo" / "Main.class").write_bytes(b"")
    with pytest.raises(JavaBuildError, match="has no `main_class`, and none of its jars"):
        java_build.choose_main_class(_spec(tmp_path, []), str(classes))
    two = [
        _jar(tmp_path / "a.jar", "Main-Class: a.A\n"),
        _jar(tmp_path / "b.jar", "Main-Class: b.B\n"),
    ]
    with pytest.raises(JavaBuildError, match="several of its jars name one: //3rdparty:a: a.A; //3rdparty:b: b.B"):
        java_build.choose_main_class(_spec(tmp_path, two), str(classes))
    with pytest.raises(JavaBuildError, match="is `demo.Mian`.*classes are: demo.Main"):
        java_build.choose_main_class(_spec(tmp_path, [], "demo.Mian"), str(classes))
    assert java_build.choose_main_class(_spec(tmp_path, [], "demo.Main"), str(classes)) == "demo.Main"


def test_main_class_in_a_multi_release_jar(tmp_path: Path) -> None:
    jar = _jar(tmp_path / "mr.jar", "Multi-Release: true\n", ("META-INF/versions/11/x/Y.class",))
    assert java_build.jar_has_class(jar, "x.Y")
    assert not java_build.jar_has_class(jar, "x.Z")


def test_missing_classes_parsed_from_jdeps() -> None:
    output = """\
Error: Missing dependencies: classes not found from the module path and classpath.
To suppress this error, use --ignore-missing-deps to continue.

commons-logging-1.2.jar
   org.apache.commons.logging.impl.Log4JLogger        -> org.apache.log4j.Level                             not found
   org.apache.commons.logging.impl.ServletContextCleaner -> javax.servlet.ServletContextEvent                  not found
"""
    assert java_build.missing_classes(output) == [
        "org.apache.commons.logging.impl.Log4JLogger -> org.apache.log4j.Level",
        "org.apache.commons.logging.impl.ServletContextCleaner -> javax.servlet.ServletContextEvent",
    ]
