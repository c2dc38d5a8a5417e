"""The kernel's hermetic toolchain: a tree of locked Debian packages and the static helper that
runs the build chrooted into it (`toolchain_sandbox.c`), plus the diagnosis of a build that
needed a tool the tree lacks.

Nothing of the host enters the kernel build: the Process runs `./toolchain_sandbox` (built with
zig cc, static), which enters a user + mount namespace, bind-mounts /dev/null, zero, random
and urandom into the tree, chroots into it and execs the tree's own /bin/bash. The cache key
is therefore the lock's sha256s (through the tree's digest), the helper, the script and the
fragments: no host fingerprint.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from pants.engine.fs import AddPrefix, CreateDigest, Digest, FileContent, MergeDigests, RemovePrefix, SymlinkEntry
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from unikernel_rules.debian.lock import REGENERATE_COMMAND, DebianLock
from unikernel_rules.debian.rules import DebianLockRequest, DebianPackagesRequest, DebianTree
from unikernel_rules.kernel.toolchain_packages import KERNEL_TOOLCHAIN_PACKAGES
from unikernel_rules.subsystems.zig import Zig
from unikernel_rules.util_rules.zig_cc import ZigRequest, ZigResult, format_compiler_failure

SANDBOX_HELPER = "toolchain_sandbox"
SANDBOX_SOURCE = "toolchain_sandbox.c"
SANDBOX_CFLAGS = ("-Os", "-fno-ident", "-Wall", "-Wextra", "-static", "-s", "-Wl,--build-id=none")
SANDBOX_FAILURE_EXIT = 125
SANDBOX_ERROR_PREFIX = "UNIKERNEL_SANDBOX_ERROR "
# Where the tree sits in the Process sandbox, and the build's directory inside the tree.
TREE_DIR = "tree"
BUILD_DIR = "build"

# What dpkg's maintainer scripts would have created (update-alternatives): not in any data.tar.
TREE_SYMLINKS = {
    "usr/bin/awk": "mawk",
    "usr/bin/cc": "gcc",
}

# The environment of the build inside the tree: all of it (the helper passes nothing else on).
SANDBOX_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
    "TMPDIR": "/tmp",
    "SHELL": "/bin/bash",
    "LC_ALL": "C",
    "TZ": "UTC",
}

# A command the build ran that the toolchain lacks -> the Debian package that ships it.
# (The lock holds only chosen packages, not Debian's Contents index, so this is a table of the
# tools Kbuild is known to call for some config.)
TOOL_PACKAGES: Mapping[str, str] = {
    "openssl": "openssl",
    "pahole": "dwarves",
    "python3": "python3",
    "python": "python3",
    "rsync": "rsync",
    "depmod": "kmod",
    "kmod": "kmod",
    "lzop": "lzop",
    "lzma": "xz-utils",
    "xz": "xz-utils",
    "zstd": "zstd",
    "lz4": "lz4",
    "bzip2": "bzip2",
    "gzip": "gzip",
    "cpio": "cpio",
    "bc": "bc",
    "perl": "perl",
    "flex": "flex",
    "bison": "bison",
    "clang": "clang",
    "ld.lld": "lld",
    "rustc": "rustc",
    "bindgen": "bindgen",
    "dtc": "device-tree-compiler",
    "mkimage": "u-boot-tools",
    "hostname": "hostname",
    "git": "git",
    "g++": "g++",
    "gcc-plugin": "gcc-12-plugin-dev",
    "sparse": "sparse",
    "pkg-config": "pkgconf",
    "tput": "ncurses-bin",
}
# A header a host program of the kernel tree includes -> the -dev package that ships it.
HEADER_PACKAGES: Sequence[Tuple[str, str]] = (
    ("openssl/", "libssl-dev"),
    ("gmp.h", "libgmp-dev"),
    ("mpc.h", "libmpc-dev"),
    ("gelf.h", "libelf-dev"),
    ("libelf.h", "libelf-dev"),
    ("zlib.h", "zlib1g-dev"),
    ("ncurses.h", "libncurses-dev"),
    ("curses.h", "libncurses-dev"),
    ("elfutils/", "libdw-dev"),
    ("gcc-plugin.h", "gcc-12-plugin-dev"),
)

# Kconfig symbols whose value comes from running a tool at config time (`$(shell,...)`): a
# dependency on one of them fails when the toolchain lacks the tool.
KCONFIG_TOOL_SYMBOLS: Mapping[str, Tuple[str, str]] = {
    "PAHOLE_VERSION": ("pahole", "dwarves"),
    "RUST_IS_AVAILABLE": ("rustc", "rustc"),
    "RUSTC_VERSION": ("rustc", "rustc"),
    "BINDGEN_VERSION": ("bindgen", "bindgen"),
    "CC_IS_CLANG": ("clang", "clang"),
    "LD_IS_LLD": ("ld.lld", "lld"),
}

_NOT_FOUND_PATTERNS = (
    # dash: "/bin/sh: 1: openssl: not found"; bash: "bash: line 1: pahole: command not found"
    re.compile(r"(?:^|[\s:])([A-Za-z0-9_.+-]+): (?:command )?not found\s*$"),
    # a `#!/usr/bin/env python3` script: "/usr/bin/env: 'python3': No such file or directory"
    re.compile(r"\benv: ['\u2018`]?([A-Za-z0-9_.+-]+)['\u2019]?: No such file or directory"),
    # make running a program directly: "make[2]: openssl: No such file or directory"
    re.compile(r"^make(?:\[\d+\])?: ([A-Za-z0-9_.+-]+): No such file or directory\s*$"),
    # scripts/link-vmlinux.sh: "BTF: .tmp_vmlinux.btf: pahole (pahole) is not available"
    re.compile(r"\b([A-Za-z0-9_.+-]+) \([^)]*\) is not available"),
)
_MISSING_HEADER = re.compile(r"fatal error: ([A-Za-z0-9_./+-]+\.h): No such file or directory")


class KernelToolchainError(Exception):
    """The kernel toolchain cannot be assembled, or the build needed something it lacks."""


@dataclass(frozen=True)
class KernelToolchainRequest:
    # Extra Debian packages (a kernel's `toolchain_packages` field), added to the defaults.
    extra_packages: Tuple[str, ...] = ()
    description_of_origin: str = "the kernel toolchain"


@dataclass(frozen=True)
class KernelToolchain:
    tree: Digest  # the packages' files under `tree/`, plus TREE_SYMLINKS
    helper: Digest  # the static executable `toolchain_sandbox`
    packages: Tuple[str, ...]  # the roots asked for


@dataclass(frozen=True)
class MissingTool:
    name: str  # a command or header
    package: Optional[str]  # the Debian package that provides it, if known
    kind: str = "command"  # "command" or "header"


@dataclass(frozen=True)
class _SandboxHelperRequest:
    pass


@dataclass(frozen=True)
class _SandboxHelper:
    digest: Digest  # the single executable `toolchain_sandbox`


def toolchain_roots(extra: Iterable[str]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys([*KERNEL_TOOLCHAIN_PACKAGES, *extra]))


def missing_from_lock(lock: DebianLock, roots: Iterable[str]) -> List[str]:
    return [r for r in roots if lock.get(r) is None]


def missing_packages_message(missing: Sequence[str], lock_path: str, origin: str) -> str:
    names = ", ".join(missing)
    quoted = ", ".join(f'"{m}"' for m in missing)
    return (
        f"The kernel is compiled with a toolchain of locked Debian packages, but {names}, "
        f"needed by {origin}, {'is' if len(missing) == 1 else 'are'} not in the Debian "
        f"lockfile {lock_path}. "
        "Keep the kernel toolchain in `[debian-lock].packages` (its default lists it; if you set "
        f"`packages` in pants.toml, use `packages.add = [{quoted}]` instead of replacing the "
        f"default), then re-lock with `./{REGENERATE_COMMAND}`."
    )


def find_missing_tools(output: str, available: Iterable[str] = ()) -> List[MissingTool]:
    """Commands and headers the build output says were not found, in order of appearance."""
    seen: Dict[str, MissingTool] = {}
    skip = set(available)
    for line in output.splitlines():
        header = _MISSING_HEADER.search(line)
        if header:
            name = header.group(1)
            package = next((p for prefix, p in HEADER_PACKAGES if name.startswith(prefix)), None)
            seen.setdefault(name, MissingTool(name, package, "header"))
            continue
        for pattern in _NOT_FOUND_PATTERNS:
            m = pattern.search(line)
            if m:
                name = m.group(1)
                if name not in skip and not name.isdigit():
                    seen.setdefault(name, MissingTool(name, TOOL_PACKAGES.get(name)))
                break
    return list(seen.values())


def missing_tools_message(tools: Sequence[MissingTool], kernel: str) -> str:
    lines = []
    packages = []
    for t in tools:
        what = f"the header <{t.name}>" if t.kind == "header" else f"the command `{t.name}`"
        if t.package:
            lines.append(f"  - {what}: Debian package `{t.package}`")
            packages.append(t.package)
        else:
            lines.append(
                f"  - {what}: not in this plugin's table of tools; find the Debian package that "
                f"ships it (`apt-file search {t.name}` or packages.debian.org)"
            )
    packages = list(dict.fromkeys(packages))
    quoted = ", ".join(f'"{p}"' for p in packages) or '"<package>"'
    return (
        f"The kernel build of {kernel} needed something its locked toolchain lacks (a kernel "
        "config option of your fragments probably turned on a step that calls it):\n"
        + "\n".join(lines)
        + "\nAdd the package to the `toolchain_packages` field of "
        f"{kernel} and to `[debian-lock].packages` (`packages.add = [{quoted}]`), then run "
        f"`./{REGENERATE_COMMAND}`; or turn the option off in your fragment."
    )


def kconfig_tool_hints(problems: Iterable[str], kernel: str) -> List[str]:
    """For config errors whose unmet dependency is a tool-probing symbol: what to add."""
    hints: List[str] = []
    text = "\n".join(problems)
    for symbol, (tool, package) in KCONFIG_TOOL_SYMBOLS.items():
        if re.search(rf"\b{symbol}\b", text):
            hints.append(
                f"{symbol} is measured by running `{tool}`, which the locked kernel toolchain "
                f"lacks: add the Debian package `{package}` to the `toolchain_packages` field of "
                f'{kernel} and to `[debian-lock].packages` (`packages.add = ["{package}"]`), then '
                f"run `./{REGENERATE_COMMAND}`."
            )
    return hints


def sandbox_argv(env: Mapping[str, str], workdir: str, program: Sequence[str]) -> Tuple[str, ...]:
    """argv of the helper: run `program` (paths inside the tree) in `workdir` with `env` only."""
    args: List[str] = [f"./{SANDBOX_HELPER}"]
    for k, v in sorted(env.items()):
        args += ["-e", f"{k}={v}"]
    return (*args, TREE_DIR, workdir, *program)


@rule(desc="Build the kernel toolchain's sandbox helper", level=LogLevel.DEBUG)
async def build_sandbox_helper(_: _SandboxHelperRequest, zig: Zig) -> _SandboxHelper:
    source = importlib.resources.read_binary("unikernel_rules.kernel", SANDBOX_SOURCE)
    digest = await Get(Digest, CreateDigest([FileContent(SANDBOX_SOURCE, source)]))
    built = await Get(
        ZigResult,
        ZigRequest(
            argv=("cc", "-target", zig.target, *SANDBOX_CFLAGS, "-o", f"out/{SANDBOX_HELPER}", SANDBOX_SOURCE),
            input_digest=digest,
            output_files=(f"out/{SANDBOX_HELPER}",),
            description="Building the kernel toolchain's sandbox helper with zig cc",
            level=LogLevel.DEBUG,
        ),
    )
    if built.result.exit_code != 0:
        raise KernelToolchainError(format_compiler_failure("the kernel toolchain's sandbox helper", built.result))
    return _SandboxHelper(await Get(Digest, RemovePrefix(built.result.output_digest, "out")))


@rule(desc="Assemble the kernel toolchain", level=LogLevel.DEBUG)
async def kernel_toolchain(request: KernelToolchainRequest) -> KernelToolchain:
    roots = toolchain_roots(request.extra_packages)
    lock = await Get(DebianLock, DebianLockRequest())
    missing = missing_from_lock(lock, roots)
    if missing:
        raise KernelToolchainError(missing_packages_message(missing, lock.path, request.description_of_origin))
    tree, helper, links = await MultiGet(
        Get(DebianTree, DebianPackagesRequest(roots, request.description_of_origin)),
        Get(_SandboxHelper, _SandboxHelperRequest()),
        Get(Digest, CreateDigest([SymlinkEntry(p, t) for p, t in sorted(TREE_SYMLINKS.items())])),
    )
    merged = await Get(Digest, MergeDigests([tree.digest, links]))
    return KernelToolchain(
        tree=await Get(Digest, AddPrefix(merged, TREE_DIR)), helper=helper.digest, packages=roots
    )


def rules():
    return collect_rules()
