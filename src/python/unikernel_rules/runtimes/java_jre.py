#!/usr/bin/env python3
"""Cut a minimal Java runtime with `jlink` and strip it; dump an app's CDS archive.

Runs inside a Pants sandbox and is imported by unit tests.

    java_jre.py SPEC.json

`"mode": "link"` (a cached process keyed by the module list and options, so an app change
that keeps the modules reuses it):
  jlink:         argv prefix that starts the JDK's jlink
  module_path:   the JDK's jmods directory
  modules:       the modules to link (sorted)
  options:       further jlink options
  out:           output tree; the runtime goes to `<out>/<home>`
  home:          the runtime's guest path without the leading `/`, e.g. "opt/java"
  strip:         argv prefix of `strip`, or [] for no stripping
  exclude_libraries: file names removed from the runtime's `lib/` after jlink (headless mode:
                 the AWT/X11, sound and font libraries), optional
  exclude_modules: modules that must NOT be in the runtime: an error if jlink linked one anyway
                 because a linked module requires it, optional
  jmod:          argv prefix of the JDK's `jmod` (names the modules that require an excluded one)
  report:        JSON report: files, bytes, elf files, excluded libraries

`"mode": "cds"`: a class-data sharing archive of the JDK's default class list plus every class
of the app's jars, dumped by the image's own `java` in a copy of the guest's root filesystem:
  root:          the guest's files (runtime, libraries, app) in the sandbox
  home, app:     the runtime's and the app's guest paths without the leading `/`
  classpath:     the app's class path, relative to `app` (as the image runs it)
  jmods:         jmod files of the JDK modules (but java.base) the app uses directly: their
                 classes are listed too (java.base's default class list is already there)
  archive:       the archive's path relative to `app`
  loader:        argv prefix (relative to `<root>/<app>`) that runs an ELF program through the
                 guest's own dynamic loader and libraries
  options:       JVM options for the dump (serial collector, fixed heap: reproducible)
  out:           output tree: `<out>/<archive>`
  report:        JSON report: classes listed

Exit status 3 means a user-facing error, printed as `UNIKERNEL_JAVA_ERROR` lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from typing import List, Sequence

try:
    from unikernel_rules.runtimes.sandbox_script import UserError, files_under, script_main
except ImportError:  # in the sandbox, shipped beside this script
    from sandbox_script import UserError, files_under, script_main  # type: ignore[no-redef]  # pants: no-infer-dep

ERROR = "UNIKERNEL_JAVA_ERROR"


class JreError(UserError):
    pass


def run(argv: Sequence[str], what: str) -> None:
    result = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise JreError(f"{what} failed (exit status {result.returncode}):\n" + result.stdout.decode(errors="replace").rstrip())


def is_elf(path: str) -> bool:
    if os.path.islink(path):
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def linked_modules(home: str) -> List[str]:
    """The modules jlink put into a runtime: the `MODULES` line of its `release` file."""
    try:
        with open(os.path.join(home, "release")) as f:
            for line in f:
                if line.startswith("MODULES="):
                    return line.split("=", 1)[1].strip().strip('"').split()
    except OSError:
        pass
    return []


def requires(describe: str) -> List[str]:
    """The modules a `jmod describe` output says the module requires."""
    found = []
    for line in describe.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "requires":
            found.append(parts[1])
    return found


def required_by(jmod: Sequence[str], module_path: str, modules: Sequence[str], excluded: str) -> List[str]:
    """Which of `modules` (the linked ones) require `excluded`, by `jmod describe` (argv
    prefix `jmod`; empty: unknown)."""
    found = []
    for m in modules:
        if m == excluded or not jmod:
            continue
        result = subprocess.run(
            [*jmod, "describe", os.path.join(module_path, f"{m}.jmod")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        if result.returncode == 0 and excluded in requires(result.stdout.decode(errors="replace")):
            found.append(m)
    return sorted(found)


def remove_libraries(home: str, names: Sequence[str]) -> List[str]:
    """Delete `lib/<name>` for each name of `names` present; the removed names, sorted."""
    removed = []
    for name in names:
        path = os.path.join(home, "lib", name)
        if os.path.lexists(path):
            os.remove(path)
            removed.append(name)
    return sorted(removed)


def build(spec: dict) -> dict:
    home = os.path.join(spec["out"], spec["home"])
    os.makedirs(os.path.dirname(home), exist_ok=True)
    run(
        [
            *spec["jlink"],
            "--module-path", spec["module_path"],
            "--add-modules", ",".join(spec["modules"]),
            *spec["options"],
            "--output", home,
        ],
        "jlink",
    )
    linked = linked_modules(home)
    for excluded in spec.get("exclude_modules", ()):
        if excluded in linked:
            users = required_by(spec.get("jmod", ()), spec["module_path"], linked, excluded)
            raise JreError(
                f"The module {excluded} is excluded (`exclude_jdk_modules`), but jlink linked it "
                "because other modules of the runtime require it"
                + (f" ({', '.join(users)})" if users else "")
                + ". Exclude those too, or keep it."
            )
    removed = remove_libraries(home, spec.get("exclude_libraries", ()))
    elf = [f for f in files_under(home) if is_elf(os.path.join(home, f))]
    if spec["strip"]:
        for rel in elf:
            path = os.path.join(home, rel)
            mode = os.stat(path).st_mode
            os.chmod(path, mode | 0o200)
            run([*spec["strip"], "--strip-unneeded", path], f"strip {rel}")
            os.chmod(path, mode)
    files = files_under(home)
    return {
        "files": len(files),
        "bytes": sum(os.lstat(os.path.join(home, f)).st_size for f in files),
        "elf": ["/" + os.path.join(spec["home"], f) for f in elf],
        "excluded_libraries": removed,
        "modules": linked,
    }


def jar_classes(jar: str, prefix: str = "") -> List[str]:
    """The classes of a jar (or, with `prefix="classes/"`, a jmod) in class-list form
    (`a/b/C`), without module-info and without the versioned copies of a multi-release jar
    (the JVM picks the right version by base name)."""
    with zipfile.ZipFile(jar) as z:
        names = [n[len(prefix) :] for n in z.namelist() if n.startswith(prefix)]
    return sorted(
        n[: -len(".class")]
        for n in names
        if n.endswith(".class") and not n.startswith("META-INF/") and not n.endswith("module-info.class")
    )


def dump_cds(spec: dict) -> dict:
    app_dir = os.path.join(spec["root"], spec["app"])
    relative_root = os.path.relpath(spec["root"], app_dir)
    java_home = os.path.join(relative_root, spec["home"])
    with open(os.path.join(spec["root"], spec["home"], "lib", "classlist")) as f:
        classes = [line.rstrip("\n") for line in f if line.strip()]
    for jmod in spec.get("jmods", ()):
        classes += jar_classes(jmod, prefix="classes/")
    app_classes: List[str] = []
    for entry in spec["classpath"]:
        path = os.path.join(app_dir, entry)
        app_classes += jar_classes(path)
        # The JVM checks each class path jar's size and mtime against the archive: the image's
        # files all have mtime 0 (rootfs.img is built with -all-time 0).
        os.utime(path, (0, 0))
    listed = os.path.join(app_dir, "cds.classlist")
    with open(listed, "w") as f:  # (the JVM ignores a class listed twice)
        f.write("\n".join(classes + app_classes) + "\n")
    archive = spec["archive"]
    argv = [
        *spec["loader"],
        os.path.join(java_home, "bin", "java"),
        *spec["options"],
        "-Xshare:dump",
        "-XX:SharedClassListFile=cds.classlist",
        f"-XX:SharedArchiveFile={archive}",
        # Relative, exactly as the image runs it from its working directory (the archive
        # records the class path and is used only with the same one).
        "-cp", ":".join(spec["classpath"]),
        "-Xlog:disable",
        "-Xlog:cds=error",
    ]
    result = subprocess.run(argv, cwd=app_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise JreError(
            "Dumping the CDS archive (java -Xshare:dump) failed:\n" + result.stdout.decode(errors="replace").rstrip()
        )
    os.remove(listed)
    out = os.path.join(spec["out"], archive)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    os.replace(os.path.join(app_dir, archive), out)
    return {"classes": len(classes) + len(app_classes), "app_classes": len(app_classes)}


def main(argv: List[str]) -> int:
    return script_main(argv, lambda spec: dump_cds(spec) if spec.get("mode") == "cds" else build(spec), ERROR)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
