#!/usr/bin/env python3
"""Compile a `java_program` into a reproducible jar and find the JDK modules it needs.

Runs inside a Pants sandbox (a cached process; the JDK is the Debian-locked one, started
through its own tree's dynamic loader) and is imported by unit tests.

    java_build.py SPEC.json

SPEC keys:
  javac, jar, jdeps:   argv prefixes that start each JDK tool
  sources:             `.java` files (sandbox-relative = build-root-relative: errors name them)
  jars:                [{"path": sandbox path, "name": file name in the image, "label": for errors}]
  release:             `javac --release` / `jdeps --multi-release`
  javac_options:       extra javac options
  main_class:          the class to run, or null: the one `Main-Class` of the jars' manifests
  ignore_missing_deps: pass `--ignore-missing-deps` to jdeps
  program:             the target's address (for errors)
  out:                 output tree: `<out>/app.jar`, `<out>/lib/<name>` (the guest's /app)
  report:              JSON report: main_class, modules, classpath (guest-relative to /app)

Exit status 3 means a user-facing error, printed as `UNIKERNEL_JAVA_ERROR` lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from typing import Dict, List, Optional, Sequence

try:
    from unikernel_rules.runtimes.sandbox_script import UserError, files_under, script_main
except ImportError:  # in the sandbox, shipped beside this script
    from sandbox_script import UserError, files_under, script_main  # type: ignore[no-redef]  # pants: no-infer-dep

# jar's --date: the ZIP format's earliest time (DOS dates start in 1980), in UTC.
JAR_DATE = "1980-01-01T00:00:02Z"
ERROR = "UNIKERNEL_JAVA_ERROR"


class JavaBuildError(UserError):
    pass


def run(argv: Sequence[str], what: str) -> str:
    result = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = result.stdout.decode(errors="replace")
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, what, output)
    return output


def class_files(classes: str) -> List[str]:
    return files_under(classes)


def compile_sources(spec: dict, classes: str) -> None:
    os.makedirs(classes, exist_ok=True)
    if not spec["sources"]:
        return
    argfile = "javac.args"
    with open(argfile, "w") as f:
        f.write("\n".join(spec["sources"]) + "\n")
    classpath = ":".join(j["path"] for j in spec["jars"])
    argv = [
        *spec["javac"],
        "--release", str(spec["release"]),
        "-encoding", "UTF-8",
        "-d", classes,
        "-implicit:class",
        *(["-classpath", classpath] if classpath else []),
        *spec["javac_options"],
        "@" + argfile,
    ]
    try:
        run(argv, "javac")
    except subprocess.CalledProcessError as e:
        raise JavaBuildError(f"javac failed to compile {spec['program']}:\n{e.output.rstrip()}")


def make_jar(spec: dict, classes: str, path: str, main_class: Optional[str]) -> bool:
    """The program's classes as a jar: entries in sorted order, every timestamp `JAR_DATE`.
    False if the program has no classes of its own (its jars hold the app)."""
    files = class_files(classes)
    if not files:
        return False
    argfile = "jar.args"
    with open(argfile, "w") as f:
        f.write("\n".join(f"-C\n{classes}\n{name}" for name in files) + "\n")
    argv = [*spec["jar"], "--create", "--file", path, "--date", JAR_DATE]
    if main_class:
        argv += ["--main-class", main_class]
    run([*argv, "@" + argfile], "jar")
    return True


def manifest_main_class(jar: str) -> Optional[str]:
    with zipfile.ZipFile(jar) as z:
        try:
            text = z.read("META-INF/MANIFEST.MF").decode("utf-8", errors="replace")
        except KeyError:
            return None
    # Manifest lines are folded at 72 bytes: a continuation line starts with one space.
    unfolded = text.replace("\r\n", "\n").replace("\n ", "")
    for line in unfolded.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "main-class" and value.strip():
            return value.strip()
    return None


def class_entry(name: str) -> str:
    return name.replace(".", "/") + ".class"


def jar_has_class(jar: str, name: str) -> bool:
    entry = class_entry(name)
    with zipfile.ZipFile(jar) as z:
        names = set(z.namelist())
    return entry in names or any(n.endswith("/" + entry) and n.startswith("META-INF/versions/") for n in names)


def choose_main_class(spec: dict, classes: str) -> str:
    program, jars = spec["program"], spec["jars"]
    wanted = spec["main_class"]
    if wanted:
        if os.path.exists(os.path.join(classes, class_entry(wanted))):
            return wanted
        if any(jar_has_class(j["path"], wanted) for j in jars):
            return wanted
        own = [c[: -len(".class")].replace("/", ".") for c in class_files(classes) if "$" not in c]
        hint = (
            f" The program's classes are: {', '.join(own[:20])}{' ...' if len(own) > 20 else ''}."
            if own
            else " The program has no sources of its own (`sources` matched no `.java` file)."
        )
        raise JavaBuildError(
            f"The `main_class` field of {program} is `{wanted}`, which is neither compiled from "
            f"its sources nor in its jars.{hint} Set `main_class` to the fully qualified name "
            "of the class with `public static void main(String[] args)`."
        )
    found: Dict[str, str] = {}
    for j in jars:
        main = manifest_main_class(j["path"])
        if main:
            found[j["label"]] = main
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise JavaBuildError(
            f"{program} has no `main_class`, and none of its jars names a `Main-Class` in its "
            "manifest. Set `main_class` to the fully qualified name of the class with "
            "`public static void main(String[] args)`, e.g. `main_class=\"example.Main\"`."
        )
    raise JavaBuildError(
        f"{program} has no `main_class`, and several of its jars name one: "
        + "; ".join(f"{label}: {main}" for label, main in sorted(found.items()))
        + ". Set `main_class` to the one to run."
    )


def missing_classes(output: str) -> List[str]:
    """`jdeps` lines `   a.B   -> c.D   not found` -> ["a.B -> c.D", ...]."""
    found = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[1] == "->" and parts[-2:] == ["not", "found"]:
            found.append(f"{parts[0]} -> {parts[2]}")
    return found


def jdk_modules(spec: dict, app_jar: Sequence[str]) -> List[str]:
    jars = [j["path"] for j in spec["jars"]]
    argv = [*spec["jdeps"], "--multi-release", str(spec["release"]), "--print-module-deps"]
    if spec["ignore_missing_deps"]:
        argv.append("--ignore-missing-deps")
    if jars:
        argv += ["--class-path", ":".join(jars)]
    argv += [*app_jar, *jars]
    try:
        output = run(argv, "jdeps")
    except subprocess.CalledProcessError as e:
        missing = missing_classes(e.output)
        if not missing:
            raise JavaBuildError(f"jdeps failed on {spec['program']}:\n{e.output.rstrip()}")
        shown = "\n".join(f"  {m}" for m in missing[:30])
        more = f"\n  ... and {len(missing) - 30} more" if len(missing) > 30 else ""
        raise JavaBuildError(
            f"jdeps cannot resolve classes that {spec['program']} or its jars refer to, so it "
            f"cannot compute the JDK modules the image needs:\n{shown}{more}\n"
            "If a class is in a jar, add a `java_jar` for it to the program's `dependencies`. "
            "If it belongs to the JDK but is loaded by reflection, list its module in "
            "`jdk_modules`. If the references are optional dependencies that are absent on "
            "purpose (a logging bridge, a servlet listener), set `ignore_missing_deps=True` "
            "on the program."
        )
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    modules = lines[-1].split(",") if lines else []
    return sorted(m for m in modules if m)


def build(spec: dict) -> dict:
    out = spec["out"]
    os.makedirs(os.path.join(out, "lib"), exist_ok=True)
    classes = "classes"
    compile_sources(spec, classes)
    main_class = choose_main_class(spec, classes)
    app_jar = os.path.join(out, "app.jar")
    own = make_jar(spec, classes, app_jar, spec["main_class"] and main_class)
    classpath = ["app.jar"] if own else []
    for j in spec["jars"]:
        with open(j["path"], "rb") as src, open(os.path.join(out, "lib", j["name"]), "wb") as dst:
            dst.write(src.read())
        classpath.append("lib/" + j["name"])
    return {
        "main_class": main_class,
        "modules": jdk_modules(spec, [app_jar] if own else []),
        "classpath": classpath,
        "classes": len(class_files(classes)),
    }


def main(argv: List[str]) -> int:
    return script_main(argv, build, ERROR)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
