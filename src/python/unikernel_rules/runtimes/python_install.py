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
  report:      JSON report to write (entry point, files, native extensions, stdlib files)
  stdlib_keep: extra standard-library modules to keep (imported dynamically by the app)
  entry_point: the entry point to check, {"module": ..., "function": ... or null} (optional)

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


def pyc_bytes(venv_dir: str) -> int:
    """Bytes of compiled modules in the venv (the app and its requirements): for the image's
    memory estimate, since the heap of imported modules grows with them."""
    total = 0
    for dirpath, _, filenames in os.walk(venv_dir):
        total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in filenames if n.endswith(".pyc"))
    return total


# What the interpreter itself needs besides the app's imports: start-up (site, encodings and
# every codec, which are looked up by name at run time), `-m`, and printing tracebacks.
STARTUP_MODULES = (
    "site", "os", "io", "abc", "codecs", "encodings", "stat", "posixpath", "genericpath",
    "_collections_abc", "_sitebuiltins", "runpy", "importlib.util", "importlib.machinery",
    "traceback", "linecache", "tokenize", "warnings", "zipimport",
)


_NAMESPACE = 99  # a file-type code of our own for modulefinder


# Debugging and interactive tools, reached by static analysis mostly through `help()` (pydoc)
# and the self-tests under `if __name__ == "__main__":` of many stdlib modules (doctest -> pdb,
# unittest, ...): never followed. An app that needs one lists it in `unikernel_stdlib_keep`.
INTERACTIVE_ONLY = (
    "pydoc", "pydoc_data", "pdb", "doctest", "rlcompleter", "readline", "webbrowser", "tkinter",
    "turtle", "unittest", "test", "lib2to3", "idlelib", "code", "codeop", "bdb", "cmd",
)


def _module_finder(path: list, excludes: tuple = ()):
    """`modulefinder.ModuleFinder` that also follows implicit namespace packages (directories
    without `__init__.py`, e.g. a source root's top-level directories), which Python 3.11's
    modulefinder cannot load."""
    import modulefinder

    class Finder(modulefinder.ModuleFinder):
        def find_module(self, name, path, parent=None):  # noqa: A002 - modulefinder's API
            if path is not None or parent is None:
                for entry in path if path is not None else self.path:
                    candidate = os.path.join(entry, name)
                    if os.path.isdir(candidate) and not any(
                        os.path.exists(os.path.join(candidate, "__init__" + ext)) for ext in (".py", ".pyc")
                    ) and not any(
                        os.path.exists(os.path.join(entry, name + ext)) for ext in (".py",)
                    ):
                        return None, candidate, ("", "", _NAMESPACE)
            return super().find_module(name, path, parent)

        def load_module(self, fqname, fp, pathname, file_info):
            if file_info[2] == _NAMESPACE:
                module = self.add_module(fqname)
                module.__path__ = [pathname]
                return module
            return super().load_module(fqname, fp, pathname, file_info)

    return Finder(path=path, excludes=list(excludes))


def stdlib_files(venv_site: str, entry_module: str, extra: list) -> list:
    """Files of the standard library (relative to its directory, `.py` files with their `.pyc`,
    C extensions from lib-dynload) that the app can import, found by `modulefinder` from the
    entry point: every `import` statement of every reachable module, in functions and
    `try` blocks too. Modules imported by computed names are not found: see `stdlib_keep`."""
    import sysconfig

    stdlib = os.path.abspath(sysconfig.get_path("stdlib"))
    dynload = os.path.join(stdlib, "lib-dynload")
    def run(names, excludes=()):
        finder = _module_finder([venv_site, stdlib, dynload], excludes)
        script = os.path.abspath("_unikernel_imports.py")
        with open(script, "w") as f:
            f.writelines(f"import {name}\n" for name in names)
        finder.run_script(script)
        return finder.modules

    # Codecs are imported by name (`codecs.lookup`, "idna" for socket.getfqdn, ...): all of
    # them, with what they import (unicodedata, stringprep).
    codecs = sorted(
        "encodings." + name[:-3]
        for name in os.listdir(os.path.join(stdlib, "encodings"))
        if name.endswith(".py") and name != "__init__.py"
    )
    modules = dict(run((*STARTUP_MODULES, *codecs, entry_module), INTERACTIVE_ONLY))
    if extra:
        wanted = {name.split(".")[0] for name in extra}
        modules.update(run(extra, tuple(m for m in INTERACTIVE_ONLY if m not in wanted)))
    missing = [name for name in extra if name not in modules]
    if missing:
        raise InstallError(
            f"`unikernel_stdlib_keep` names modules that are not in the standard library: {', '.join(missing)}"
        )
    keep = set()
    for module in modules.values():
        path = module.__file__
        if not path or not os.path.abspath(path).startswith(stdlib + os.sep):
            continue
        rel = os.path.relpath(path, stdlib)
        keep.add(rel)
        if rel.endswith(".py"):
            head, tail = os.path.split(rel)
            keep.add(os.path.join(head, "__pycache__", tail[:-3] + f".cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc"))
    return sorted(p for p in keep if os.path.exists(os.path.join(stdlib, p)))


def _top_level_names(body: list) -> "set | None":
    """Names a module binds at its top level (also inside top-level `if`/`try`/`with`), or None
    when it cannot be told statically (`from x import *`, a module `__getattr__`)."""
    import ast

    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names.add(sub.id)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                inner = _top_level_names(block)
                if inner is None:
                    return None
                names |= inner
    if "__getattr__" in names:
        return None
    return names


def check_entry_point(site_packages: str, module: str, function: "str | None") -> "str | None":
    """What is wrong with the entry point `module[:function]` in an installed venv, or None.

    Static only (nothing of the app runs at build time): the module's file must exist under
    site-packages (`a/b.py`, `a/b/__init__.py`, or an extension `a/b.*.so`); `-m` of a package
    needs its `__main__.py`; the function must be bound at the module's top level (a def, a
    class, an assignment or an import), unless the module's names cannot be told statically."""
    import ast

    parts = module.split(".")
    base = os.path.join(site_packages, *parts)
    parent = os.path.dirname(base)
    source = None
    if os.path.isfile(base + ".py"):
        source = base + ".py"
    elif os.path.isfile(os.path.join(base, "__init__.py")):
        source = os.path.join(base, "__init__.py")
        if function is None and not os.path.isfile(os.path.join(base, "__main__.py")):
            return f"`{module}` is a package without a `__main__.py`, so `python -m {module}` cannot run it"
    elif os.path.isdir(parent) and any(
        name.startswith(parts[-1] + ".") and name.endswith(".so") for name in os.listdir(parent)
    ):
        return None  # a compiled extension module: its names cannot be read
    elif os.path.isdir(base):
        if function is None and os.path.isfile(os.path.join(base, "__main__.py")):
            return None
        return f"`{module}` is a directory without `__init__.py`{' or `__main__.py`' if function is None else ''}, not a module"
    else:
        return f"no module `{module}` is in the app (looked for {'/'.join(parts)}.py and {'/'.join(parts)}/__init__.py in its sources and requirements)"
    if function is None:
        return None
    with open(source, "rb") as f:
        try:
            tree = ast.parse(f.read(), filename=source)
        except SyntaxError as e:
            return f"the module `{module}` does not parse: {e}"
    names = _top_level_names(tree.body)
    head = function.split(".")[0]
    if names is None or head in names:
        return None
    if source.endswith("__init__.py") and (
        os.path.isfile(os.path.join(base, head + ".py")) or os.path.isdir(os.path.join(base, head))
    ):
        return None  # `package:submodule`
    return f"the module `{module}` defines no `{head}` at its top level"


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
        major_minor = ".".join(spec["version"].split(".")[:2])
        site_packages = os.path.join(venv_dir, "lib", f"python{major_minor}", "site-packages")
        entry_point = spec.get("entry_point")
        if entry_point:
            problem = check_entry_point(site_packages, entry_point["module"], entry_point.get("function"))
            if problem:
                print(f"UNIKERNEL_ENTRY_POINT_ERROR {problem}")
                return 4
        entry = (info.get("entry_point") or "").split(":")[0]
        stdlib = (
            stdlib_files(
                site_packages,
                entry,
                spec.get("stdlib_keep", []),
            )
            if entry and spec.get("stdlib") == "imported"
            else None
        )
    except InstallError as e:
        print(f"UNIKERNEL_INSTALL_ERROR {e}")
        return 3
    report = {
        "entry_point": info.get("entry_point"),
        "inject_args": info.get("inject_args", []),
        "inject_env": info.get("inject_env", {}),
        "native_extensions": native_extensions(venv_dir, out),
        "distributions": sorted(info.get("distributions", {})),
        "app_pyc_bytes": pyc_bytes(venv_dir),
        "stdlib_files": stdlib,
    }
    os.makedirs(os.path.dirname(spec["report"]) or ".", exist_ok=True)
    with open(spec["report"], "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
