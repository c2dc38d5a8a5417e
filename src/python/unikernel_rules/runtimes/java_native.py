"""The native side of a Java image: headless mode, the program's own Debian packages and the
error for shared libraries the runtime needs but the image lacks (with Java advice).

Pure functions (unit-tested) and one helper rule over the Debian lock.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Iterable, Sequence, Tuple

from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST, Digest, DigestSubset, MergeDigests, PathGlobs, Snapshot
from pants.engine.rules import Get, MultiGet
from pants.engine.target import InvalidFieldException
from pants.util.strutil import softwrap

from unikernel_rules.debian.lock import REGENERATE_COMMAND
from unikernel_rules.debian.rules import LIBRARY_DIRS, DebianLock, DebianLockRequest, DebianPackagesRequest, DebianTree
from unikernel_rules.rootfs.layer_rules import MissingLibrary, missing_libraries_text, missing_packages_fix
from unikernel_rules.subsystems.java_runtime import DESKTOP_MODULE, HEADLESS_EXCLUDED_LIBRARIES, JAVA_HOME


def check_debian_packages(address: Address, packages: Sequence[str], lock: DebianLock) -> None:
    """Every package of the `debian_packages` field must be in the lock."""
    locked = {p.name for p in lock.packages}
    unknown = [p for p in packages if p not in locked]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise InvalidFieldException(
            softwrap(
                f"""
                The `debian_packages` field of {address} names the Debian package{plural}
                {', '.join(unknown)}, which {'are' if plural else 'is'} not in the Debian lock
                ({lock.path}). Add {'them' if plural else 'it'} to `[debian-lock].packages` in
                pants.toml (`[debian-lock] packages.add = [{', '.join(json.dumps(u) for u in unknown)}]`)
                and run `{REGENERATE_COMMAND}`; or fix the name (Debian names a library's package
                after the library, e.g. `libfreetype6` for libfreetype.so.6).
                """
            )
        )


def excluded_but_used(jdeps_modules: Iterable[str], excluded: Iterable[str]) -> Tuple[str, ...]:
    """Modules that jdeps found the app uses and that `exclude_jdk_modules` leaves out."""
    return tuple(sorted(set(jdeps_modules) & set(excluded)))


def headless_libraries(headless: bool, modules: Iterable[str], option: Sequence[str]) -> Tuple[str, ...]:
    """The runtime libraries to leave out: the option's, when headless and java.desktop is linked."""
    return tuple(sorted(option)) if headless and DESKTOP_MODULE in set(modules) else ()


@dataclass(frozen=True)
class ProgramPackages:
    tree: DebianTree  # the JDK's runtime packages plus the program's (with their locked deps)
    libraries: Digest  # the shared libraries of the program's own packages, at guest paths
    roots: Tuple[str, ...]  # their guest paths (roots of the ELF closure)


async def program_packages(jdk_tree: DebianTree, packages: Tuple[str, ...], origin: str) -> ProgramPackages:
    """The tree to find the runtime's libraries in, and the libraries of `packages` to install."""
    if not packages:
        return ProgramPackages(jdk_tree, EMPTY_DIGEST, ())
    closure, own = await MultiGet(
        Get(DebianTree, DebianPackagesRequest(packages, origin)),
        Get(DebianTree, DebianPackagesRequest(packages, origin, with_dependencies=False)),
    )
    merged, libraries = await MultiGet(
        Get(Digest, MergeDigests([jdk_tree.digest, closure.digest])),
        Get(Snapshot, DigestSubset(own.digest, PathGlobs([f"{d}/*.so*" for d in LIBRARY_DIRS]))),
    )
    by_name = {p.name: p for p in (*jdk_tree.packages, *closure.packages)}
    tree = DebianTree(merged, tuple(by_name[n] for n in sorted(by_name)))
    return ProgramPackages(tree, libraries.digest, tuple("/" + f for f in libraries.files))


async def locked_debian_packages(address: Address, packages: Tuple[str, ...]) -> None:
    if packages:
        check_debian_packages(address, packages, await Get(DebianLock, DebianLockRequest()))


def missing_libraries_error(
    address: Address, missing: Sequence[MissingLibrary], headless: bool, has_desktop: bool
) -> str:
    """The paragraph for a Java runtime whose native libraries need libraries the image lacks."""
    lib_dir = f"{JAVA_HOME}/lib/"
    desktop = sorted(
        {
            posixpath.basename(m.needed_by)
            for m in missing
            if m.needed_by.startswith(lib_dir) and posixpath.basename(m.needed_by) in HEADLESS_EXCLUDED_LIBRARIES
        }
    )
    advice = ""
    if desktop and has_desktop:
        what = "; ".join(f"{name}: {HEADLESS_EXCLUDED_LIBRARIES[name]}" for name in desktop)
        if not headless:
            advice = (
                f" These libraries belong to {DESKTOP_MODULE}'s AWT, sound and font support ({what}). "
                f"Headless mode (the default) leaves them out, but {address} sets `headless=False`: "
                "if the program opens no window, plays no sound and renders no text, remove "
                "`headless=False` (the JVM then runs with -Djava.awt.headless=true and needs none "
                "of these packages). Otherwise add the packages below."
            )
        else:
            advice = (
                f" These libraries belong to {DESKTOP_MODULE}'s AWT, sound and font support ({what}); "
                "headless mode leaves them out unless `[unikernel-java].headless_excluded_libraries` "
                "no longer lists them: restore that option's default, or add the packages below."
            )
    return (
        f"The Java runtime of {address} needs shared libraries that the image does not have "
        "(the whole missing closure, with the Debian packages that ship each):\n"
        + missing_libraries_text(missing)
        + "\n"
        + advice.strip()
        + (" " if advice else "")
        + missing_packages_fix(missing, f"the `debian_packages` field of {address}")
    )
