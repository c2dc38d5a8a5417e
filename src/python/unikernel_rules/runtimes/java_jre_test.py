from __future__ import annotations

import json
import zipfile
from pathlib import Path

from unikernel_rules.runtimes import java_jre
from unikernel_rules.runtimes.java_jre import JreError


def test_jar_classes_skip_module_info_and_versioned_copies(tmp_path: Path) -> None:
    jar = tmp_path / "mr.jar"
    with zipfile.ZipFile(jar, "w") as z:
        for name in ("a/B.class", "a/B$1.class", "module-info.class", "META-INF/versions/11/a/B.class", "a/x.properties"):
            z.writestr(name, b"")
    assert java_jre.jar_classes(str(jar)) == ["a/B", "a/B$1"]
    jmod = tmp_path / "m.jmod"
    with zipfile.ZipFile(jmod, "w") as z:
        for name in ("classes/module-info.class", "classes/com/sun/X.class", "lib/libx.so"):
            z.writestr(name, b"")
    assert java_jre.jar_classes(str(jmod), prefix="classes/") == ["com/sun/X"]


def test_a_failing_tool_is_a_user_error_with_its_output(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "mode": "link", "jlink": ["sh", "-c", "echo Module java.nope not found; exit 1", "jlink"],
        "module_path": "jmods", "modules": ["java.nope"], "options": [], "out": str(tmp_path / "out"),
        "home": "opt/java", "strip": [], "report": str(tmp_path / "report.json"),
    }))
    try:
        java_jre.build(json.loads(spec.read_text()))
    except JreError as e:
        assert "jlink failed (exit status 1)" in str(e) and "Module java.nope not found" in str(e)
    else:
        raise AssertionError("expected JreError")
    assert java_jre.main(["java_jre.py", str(spec)]) == 3


def test_linked_modules_and_removed_libraries(tmp_path: Path) -> None:
    home = tmp_path / "rt"
    (home / "lib").mkdir(parents=True)
    (home / "release").write_text('JAVA_VERSION="17.0.15"\nMODULES="java.base java.desktop java.sql"\n')
    for name in ("libawt.so", "libawt_xawt.so", "libjsound.so"):
        (home / "lib" / name).write_bytes(b"\x7fELF")
    assert java_jre.linked_modules(str(home)) == ["java.base", "java.desktop", "java.sql"]
    removed = java_jre.remove_libraries(str(home), ["libjsound.so", "libawt_xawt.so", "libsplashscreen.so"])
    assert removed == ["libawt_xawt.so", "libjsound.so"]
    assert sorted(p.name for p in (home / "lib").iterdir()) == ["libawt.so"]


def test_an_excluded_module_that_jlink_links_anyway_is_an_error(tmp_path: Path) -> None:
    jmods = tmp_path / "jmods"
    jmods.mkdir()
    # A fake jlink (its last argument is the output) that links the modules java.sql requires.
    script = 'for a; do out="$a"; done; mkdir -p "$out/lib"; echo \'MODULES="java.base java.logging java.sql java.xml"\' > "$out/release"'
    spec = {
        "mode": "link", "jlink": ["sh", "-c", script, "jlink"],
        "module_path": str(jmods), "modules": ["java.sql"], "options": [], "out": str(tmp_path / "out"),
        "home": "opt/java", "strip": [], "report": str(tmp_path / "report.json"),
        "exclude_modules": ["java.logging"],
        # A fake `jmod describe`: java.sql requires java.logging, the others nothing.
        "jmod": ["sh", "-c", 'case "$2" in *java.sql.jmod) echo "java.sql@17"; echo "requires java.logging transitive";; esac', "jmod"],
    }
    try:
        java_jre.build(spec)
    except JreError as e:
        assert "java.logging is excluded (`exclude_jdk_modules`)" in str(e), e
        assert "(java.sql)" in str(e), e
    else:
        raise AssertionError("expected JreError")
    spec["exclude_modules"] = ["java.desktop"]
    assert java_jre.build(spec)["modules"] == ["java.base", "java.logging", "java.sql", "java.xml"]
