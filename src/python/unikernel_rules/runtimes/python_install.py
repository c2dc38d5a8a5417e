"""Install a PEX into a venv at its guest path, at build time, with the image's own CPython.

Runs inside a Pants sandbox (a cached process) under the image's interpreter (from the Debian
lock, started through the layer's own dynamic loader), so wheels, tags and `.pyc` match the
guest exactly:

    PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 python3.11 -s -S python_install.py SPEC.json

(not `-I`/`-E`: the fixed hash seed must apply, or set constants in `.pyc` files change order.)

SPEC keys:
  python_argv: argv that starts the image's interpreter in the sandbox (loader + program)
  pex:         the PEX file (built with --include-tools)
  out:         directory that becomes the guest's `/`
  venv:        guest path of the venv, e.g. "/opt/app"
  interpreter: guest path of the image's interpreter, e.g. "/usr/bin/python3.11"
  version:     the interpreter's version, e.g. "3.11.2"
  report:      JSON report to write (entry point, files, native extensions)

The venv is made by PEX's own tools (`PEX_TOOLS=1 app.pex venv`), then made relocatable to its
guest path: `bin/` keeps only `python*` symlinks to the guest interpreter, `pyvenv.cfg` names
the guest paths, PEX's launcher scripts (which carry sandbox paths) are removed, and every
module is compiled to an unchecked-hash `.pyc` with guest paths in it. Any file that still
mentions the sandbox path is an error: it would make the image differ between builds.
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import shutil
import subprocess
import sys
import zipfile


class InstallError(Exception):
    pass


def pex_info(pex: str) -> dict:
    if os.path.isdir(pex):
        with open(os.path.join(pex, "PEX-INFO")) as f:
            return json.load(f)
    with zipfile.ZipFile(pex) as zf:
        return json.loads(zf.read("PEX-INFO"))


def run_pex_venv(spec: dict, dest: str) -> None:
    env = {
        "PEX_TOOLS": "1",
        "PEX_ROOT": os.path.abspath(".pex_root"),
        "PEX_PYTHON_PATH": spec["python_argv"][-1],
        "PATH": "/nonexistent",
        "HOME": os.path.abspath("."),
        "SOURCE_DATE_EPOCH": "0",
        "PYTHONHASHSEED": "0",
    }
    argv = [*spec["python_argv"], spec["pex"], "venv", "--scope", "all", "--collisions-ok", dest]
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise InstallError(
            "installing the PEX into a venv (`PEX_TOOLS=1 app.pex venv`) failed:\n"
            + proc.stdout.decode(errors="replace")[-4000:]
        )


def relocate(venv_dir: str, spec: dict) -> None:
    major_minor = ".".join(spec["version"].split(".")[:2])
    bin_dir = os.path.join(venv_dir, "bin")
    shutil.rmtree(bin_dir, ignore_errors=True)
    os.makedirs(bin_dir)
    for name in ("python", "python3", f"python{major_minor}"):
        os.symlink(spec["interpreter"], os.path.join(bin_dir, name))
    # PEX's launchers (`__main__.py`, `pex`) hard-code sandbox paths in their shebangs; the
    # image starts the entry point with `python -m` instead.
    for name in ("__main__.py", "pex", "pex-repl"):
        path = os.path.join(venv_dir, name)
        if os.path.lexists(path):
            os.remove(path)
    for name in ("lib64",):  # a symlink to lib/ on some hosts; keep the tree plain
        path = os.path.join(venv_dir, name)
        if os.path.islink(path):
            os.remove(path)
    with open(os.path.join(venv_dir, "pyvenv.cfg"), "w") as f:
        f.write(
            f"home = {os.path.dirname(spec['interpreter'])}\n"
            "include-system-site-packages = false\n"
            f"version = {spec['version']}\n"
        )


def compile_venv(out: str, venv_dir: str) -> None:
    ok = compileall.compile_dir(
        venv_dir,
        quiet=1,
        stripdir=os.path.abspath(out),
        prependdir="/",
        workers=1,
        force=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise InstallError("compiling the app's modules to .pyc failed (see the errors above)")


def check_no_sandbox_paths(out: str) -> None:
    needle = os.path.abspath(out).encode()
    leaks = []
    for dirpath, _, filenames in os.walk(out):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as f:
                if needle in f.read():
                    leaks.append(os.path.relpath(path, out))
    if leaks:
        raise InstallError(
            "these installed files mention the build sandbox's path, so the image would not be "
            "reproducible: " + ", ".join(sorted(leaks)[:10])
        )


def native_extensions(venv_dir: str, out: str) -> list:
    found = []
    for dirpath, _, filenames in os.walk(venv_dir):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path) and (name.endswith(".so") or ".so." in name):
                found.append("/" + os.path.relpath(path, out))
    return sorted(found)


def main(argv: list) -> int:
    with open(argv[1]) as f:
        spec = json.load(f)
    out = spec["out"]
    venv_dir = os.path.join(out, spec["venv"].lstrip("/"))
    try:
        info = pex_info(spec["pex"])
        os.makedirs(os.path.dirname(venv_dir), exist_ok=True)
        run_pex_venv(spec, os.path.abspath(venv_dir))
        relocate(venv_dir, spec)
        compile_venv(out, venv_dir)
        check_no_sandbox_paths(out)
    except InstallError as e:
        print(f"UNIKERNEL_INSTALL_ERROR {e}")
        return 3
    report = {
        "entry_point": info.get("entry_point"),
        "inject_args": info.get("inject_args", []),
        "inject_env": info.get("inject_env", {}),
        "native_extensions": native_extensions(venv_dir, out),
        "distributions": sorted(info.get("distributions", {})),
    }
    os.makedirs(os.path.dirname(spec["report"]) or ".", exist_ok=True)
    with open(spec["report"], "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
