"""The shared-library closure of ELF files inside a file tree, read from `DT_NEEDED` (pyelftools).

Never asks the host (`ldd` would run the host's loader on the host's libraries): every library
is looked up inside `tree`, the unpacked Debian packages of a runtime layer. Used inside a
sandboxed process by the runtime layer builders (Python, Java); also imported by unit tests.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set, Tuple

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

# Where Debian (x86-64, not merged-/usr in package contents) puts shared libraries, in the
# order the dynamic loader searches its default paths.
DEFAULT_LIBRARY_DIRS = (
    "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu",
    "lib",
    "usr/lib",
)


@dataclass
class ElfInfo:
    needed: List[str] = field(default_factory=list)
    runpath: List[str] = field(default_factory=list)
    interpreter: Optional[str] = None


@dataclass
class Closure:
    # Tree-relative paths to add to the image: libraries, the symlinks that lead to them and
    # the program interpreter (dynamic loader).
    paths: Set[str] = field(default_factory=set)
    # soname -> the tree-relative files that need it, for sonames found nowhere in the tree.
    missing: Dict[str, List[str]] = field(default_factory=dict)


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def read_elf(path: str) -> ElfInfo:
    info = ElfInfo()
    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
        except ELFError:
            return info
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_INTERP":
                info.interpreter = segment.get_interp_name()
        for section in elf.iter_sections():
            if not isinstance(section, DynamicSection):
                continue
            for tag in section.iter_tags():
                if tag.entry.d_tag == "DT_NEEDED":
                    info.needed.append(tag.needed)
                elif tag.entry.d_tag in ("DT_RUNPATH", "DT_RPATH"):
                    value = tag.runpath if tag.entry.d_tag == "DT_RUNPATH" else tag.rpath
                    info.runpath.extend(p for p in value.split(":") if p)
    return info


def resolve_in_tree(tree: str, rel: str, max_links: int = 40) -> Tuple[Optional[str], List[str]]:
    """Follow symlinks inside `tree` (absolute targets are tree-rooted). Returns the final
    tree-relative path (None if it does not exist) and the symlinks passed on the way."""
    links: List[str] = []
    rel = posixpath.normpath(rel).lstrip("/")
    for _ in range(max_links):
        # Resolve symlinked parent directories too (e.g. lib64 -> lib/x86_64-linux-gnu).
        parts = rel.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            full = os.path.join(tree, prefix)
            if os.path.islink(full):
                target = os.readlink(full)
                base = "" if target.startswith("/") else posixpath.dirname(prefix)
                links.append(prefix)
                rel = posixpath.normpath(posixpath.join(base, target.lstrip("/"), *parts[i:]))
                break
        else:
            full = os.path.join(tree, rel)
            if os.path.islink(full):
                target = os.readlink(full)
                base = "" if target.startswith("/") else posixpath.dirname(rel)
                links.append(rel)
                rel = posixpath.normpath(posixpath.join(base, target.lstrip("/")))
                continue
            return (rel if os.path.exists(full) else None), links
    return None, links


def _search_dirs(elf_rel: str, info: ElfInfo, library_dirs: Iterable[str]) -> List[str]:
    dirs = []
    origin = posixpath.dirname(elf_rel)
    for entry in info.runpath:
        entry = entry.replace("${ORIGIN}", "$ORIGIN")
        if "$ORIGIN" in entry:
            dirs.append(posixpath.normpath(entry.replace("$ORIGIN", "/" + origin)).lstrip("/"))
        else:
            dirs.append(entry.lstrip("/"))
    return dirs + list(library_dirs)


def closure(
    tree: str, roots: Iterable[str], library_dirs: Iterable[str] = DEFAULT_LIBRARY_DIRS
) -> Closure:
    """The libraries (and loader) that the ELF files `roots` (tree-relative) need, transitively.

    A soname that no search directory holds is satisfied by a root of that file name, as the
    loader reuses an object already loaded under that name: the JVM's `lib/server/libjvm.so`
    (loaded by full path) for the `libjvm.so` that `lib/libjava.so` needs.
    """
    library_dirs = tuple(library_dirs)
    result = Closure()
    queue = sorted(set(roots))
    root_names = {posixpath.basename(r) for r in queue}
    seen: Set[str] = set()
    while queue:
        rel = queue.pop(0)
        if rel in seen:
            continue
        seen.add(rel)
        real, links = resolve_in_tree(tree, rel)
        if real is None or not is_elf(os.path.join(tree, real)):
            continue
        info = read_elf(os.path.join(tree, real))
        wanted = list(info.needed)
        if info.interpreter:
            interp_real, interp_links = resolve_in_tree(tree, info.interpreter)
            if interp_real is None:
                result.missing.setdefault(info.interpreter, []).append(rel)
            else:
                result.paths.update([interp_real, *interp_links, info.interpreter.lstrip("/")])
        for soname in wanted:
            found = None
            for directory in _search_dirs(real, info, library_dirs):
                candidate = posixpath.join(directory, soname)
                lib_real, lib_links = resolve_in_tree(tree, candidate)
                if lib_real is not None:
                    found = candidate
                    result.paths.update([lib_real, *lib_links, candidate])
                    if lib_real not in seen:
                        queue.append(lib_real)
                    break
            if found is None and soname not in root_names:
                result.missing.setdefault(soname, []).append(rel)
    # Roots themselves are the caller's; only report what they pull in.
    return result


def copy_into(tree: str, out: str, rel: str) -> None:
    """Copy `rel` from `tree` to `out`, a symlink as a symlink."""
    import shutil

    src, dst = os.path.join(tree, rel), os.path.join(out, rel)
    if os.path.lexists(dst):
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
    else:
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755 if os.stat(src).st_mode & 0o111 else 0o644)


def main(argv: List[str]) -> int:
    """`elf_closure.py SPEC.json`: copy the libraries that `roots` need (and that are not in
    `present`) from `tree` to `out`; report them. SPEC: tree, roots, present, out, report.
    Exit status 3, with `UNIKERNEL_ELF_MISSING <soname> <needer>` lines, if some are missing."""
    import json

    with open(argv[1]) as f:
        spec = json.load(f)
    result = closure(spec["tree"], spec["roots"])
    present = set(spec.get("present", ()))
    added = sorted(p for p in result.paths if p not in present)
    for rel in added:
        copy_into(spec["tree"], spec["out"], rel)
    os.makedirs(os.path.dirname(spec["report"]) or ".", exist_ok=True)
    with open(spec["report"], "w") as f:
        json.dump({"added": added, "missing": result.missing}, f, indent=1, sort_keys=True)
    if result.missing:
        for soname, needers in sorted(result.missing.items()):
            print(f"UNIKERNEL_ELF_MISSING {soname} /{sorted(needers)[0]}")
        return 3
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv))
