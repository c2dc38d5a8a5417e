#!/usr/bin/env python3
"""Build a trimmed runtime layer (CPython, a JRE, a tool) from unpacked Debian packages.

Runs inside a Pants sandbox (a cached process, with pyelftools) and is imported by unit tests.

    layer.py SPEC.json

SPEC keys:
  tree:     directory holding the unpacked Debian packages (the lock's closure)
  out:      directory to write the layer to (guest paths)
  report:   JSON report to write (sizes, files, python version, libraries added)
  program:  tree-relative path of the runtime's main program, e.g. "usr/bin/python3.11"
  keep:     tree-relative path prefixes to keep ("usr/lib/python3.11/", ...)
  drop:     fnmatch patterns (tree-relative) removed from what `keep` selected
  compile:  (Python) tree-relative directories whose `.py` files get `.pyc` (unchecked-hash),
            compiled by `program`, started with `program_argv` (its copy in `out`, through the
            layer's own dynamic loader: see debian.rules.debian_binary_argv)

Steps: select `keep` minus `drop`; add the shared libraries the kept ELF files need (read from
`DT_NEEDED`, looked up only in `tree`; a library found nowhere is an error naming it and who
needs it); compile `.pyc` with the layer's own interpreter, run through the layer's own dynamic
loader (the host's Python may be another version, with another bytecode format). Symlinks are
kept as symlinks. Exit status 3 means a user-facing error, printed as `UNIKERNEL_LAYER_ERROR`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from typing import Dict, Iterable, List

try:
    from unikernel_rules.rootfs import elf_closure
except ImportError:  # in the sandbox, shipped beside this script
    import elf_closure  # type: ignore[no-redef]  # pants: no-infer-dep


COMPILE_SNIPPET = r"""
import compileall, py_compile, sys
out, dirs = sys.argv[1], sys.argv[2:]
ok = True
for d in dirs:
    ok &= bool(compileall.compile_dir(
        out + "/" + d, quiet=1, stripdir=out, prependdir="/", workers=1, force=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH))
sys.exit(0 if ok else 1)
"""


class LayerError(Exception):
    pass


def walk(tree: str) -> List[str]:
    """Every file and symlink under `tree`, tree-relative, sorted (directory symlinks too)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, tree)
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            found.append(os.path.normpath(os.path.join(rel_dir, name)))
    return sorted(found)


def select(paths: Iterable[str], keep: Iterable[str], drop: Iterable[str]) -> List[str]:
    keep, drop = tuple(keep), tuple(drop)
    return [
        p
        for p in paths
        if any(p == k.rstrip("/") or p.startswith(k) for k in keep)
        and not any(fnmatch.fnmatchcase(p, d) for d in drop)
    ]


def compile_pyc(out: str, program_argv: List[str], dirs: List[str]) -> None:
    out_abs = os.path.abspath(out)
    env = {
        "PYTHONHOME": os.path.join(out_abs, "usr"),
        "PYTHONHASHSEED": "0",
        # Modules this process imports itself must not get timestamp-based .pyc files.
        "PYTHONDONTWRITEBYTECODE": "1",
        "SOURCE_DATE_EPOCH": "0",
        "LC_ALL": "C.UTF-8",
        "PATH": "/nonexistent",
    }
    # No -E/-I: PYTHONHASHSEED=0 must apply (set and frozenset constants are written in hash
    # order), and the environment is exactly `env` anyway.
    argv = [*program_argv, "-s", "-S", "-c", COMPILE_SNIPPET, out_abs, *dirs]
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise LayerError(
            "compiling the standard library to .pyc with the image's own interpreter failed:\n"
            + proc.stdout.decode(errors="replace")[-4000:]
        )


def build(spec: Dict) -> Dict:
    tree, out = spec["tree"], spec["out"]
    chosen = select(walk(tree), spec["keep"], spec.get("drop", ()))
    program = spec["program"]
    if program not in chosen:
        raise LayerError(f"{program} is not in the runtime's Debian packages")
    for rel in chosen:
        elf_closure.copy_into(tree, out, rel)
    elf_roots = [p for p in chosen if not os.path.islink(os.path.join(tree, p)) and elf_closure.is_elf(os.path.join(tree, p))]
    libs = elf_closure.closure(tree, elf_roots)
    if libs.missing:
        lines = [
            f"  - {soname}, needed by {', '.join('/' + n for n in sorted(set(needers))[:5])}"
            for soname, needers in sorted(libs.missing.items())
        ]
        raise LayerError(
            "these shared libraries are needed but are in none of the runtime's locked Debian "
            "packages:\n" + "\n".join(lines)
        )
    for rel in sorted(libs.paths):
        elf_closure.copy_into(tree, out, rel)
    if spec.get("compile"):
        compile_pyc(out, spec["program_argv"], spec["compile"])
    files = walk(out)
    size = sum(os.lstat(os.path.join(out, p)).st_size for p in files)
    report = {
        "files": len(files),
        "bytes": size,
        "libraries": sorted(p for p in libs.paths if not os.path.islink(os.path.join(tree, p))),
    }
    if spec.get("report"):
        os.makedirs(os.path.dirname(spec["report"]) or ".", exist_ok=True)
        with open(spec["report"], "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
    return report


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        spec = json.load(f)
    try:
        build(spec)
    except LayerError as e:
        print(f"UNIKERNEL_LAYER_ERROR {e}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
