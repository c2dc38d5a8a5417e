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
