from __future__ import annotations

import pytest
from pants.engine.fs import AddPrefix, CreateDigest, Digest, MergeDigests
from pants.engine.rules import QueryRule
from pants.testutil.rule_runner import MockGet, RuleRunner, run_rule_with_mocks

from unikernel_rules.debian.lock import REGENERATE_COMMAND, DebianLock, DebianLockError, lock_from_generated
from unikernel_rules.debian.rules import (
    DebianDownloadRequest,
    DebianLockRequest,
    DebianPackagesRequest,
    DebianTree,
    DownloadedDeb,
    download_deb,
)
from unikernel_rules.subsystems.unikernel import DebianArchiveSubsystem
from unikernel_rules.debian.subsystem import DEFAULT_ROOTS
from unikernel_rules.kernel.toolchain import (
    SANDBOX_ENV,
    _SandboxHelper,
    _SandboxHelperRequest,
    KernelToolchainError,
    KernelToolchainRequest,
    find_missing_tools,
    kconfig_tool_hints,
    kernel_toolchain,
    missing_tools_message,
    sandbox_argv,
    toolchain_roots,
)
from unikernel_rules.kernel.toolchain_packages import KERNEL_TOOLCHAIN_PACKAGES

LOCK_PATH = "3rdparty/debian/debian.lock"


def _lock(names) -> DebianLock:
    generated = {
        n: {
            "architecture": "amd64",
            "depends": [],
            "filename": f"pool/main/{n[0]}/{n}/{n}_1.0-1_amd64.deb",
            "sha256": "a" * 64,
            "size": 10,
            "suite": "bookworm",
            "version": "1.0-1",
        }
        for n in names
    }
    return lock_from_generated(
        LOCK_PATH, generated, requested=list(names), suites=["bookworm"], components=["main"],
        architecture="amd64",
    )


def test_default_lock_roots_hold_the_toolchain() -> None:
    assert set(KERNEL_TOOLCHAIN_PACKAGES) <= set(DEFAULT_ROOTS)
    for essential in ("gcc-12", "binutils", "make", "bash", "coreutils", "sed", "mawk", "perl"):
        assert essential in KERNEL_TOOLCHAIN_PACKAGES


def test_extra_packages_are_added_once() -> None:
    roots = toolchain_roots(["dwarves", "make"])
    assert roots[: len(KERNEL_TOOLCHAIN_PACKAGES)] == KERNEL_TOOLCHAIN_PACKAGES
    assert roots.count("make") == 1 and roots[-1] == "dwarves"


def _assemble(lock: DebianLock, request: KernelToolchainRequest):
    return run_rule_with_mocks(
        kernel_toolchain,
        rule_args=[request],
        mock_gets=[
            MockGet(output_type=DebianLock, input_types=(DebianLockRequest,), mock=lambda _: lock),
            # Never reached when a package is missing: the lock is checked first.
            *(
                MockGet(output_type=out, input_types=(inp,), mock=_unreachable)
                for out, inp in (
                    (DebianTree, DebianPackagesRequest),
                    (_SandboxHelper, _SandboxHelperRequest),
                    (Digest, CreateDigest),
                    (Digest, MergeDigests),
                    (Digest, AddPrefix),
                )
            ),
        ],
    )


def _unreachable(*_):
    raise AssertionError("the toolchain was assembled although a package is missing from the lock")


def test_toolchain_package_missing_from_the_lock() -> None:
    lock = _lock([p for p in KERNEL_TOOLCHAIN_PACKAGES if p != "bc"])
    with pytest.raises(KernelToolchainError) as e:
        _assemble(lock, KernelToolchainRequest((), "the kernel build of 3rdparty/kernel:linux"))
    text = str(e.value)
    assert "but bc, needed by the kernel build of 3rdparty/kernel:linux, is not" in text
    assert f"not in the Debian lockfile {LOCK_PATH}" in text
    assert "`[debian-lock].packages`" in text and 'packages.add = ["bc"]' in text
    assert f"`./{REGENERATE_COMMAND}`" in text


def test_extra_toolchain_package_missing_from_the_lock() -> None:
    lock = _lock(KERNEL_TOOLCHAIN_PACKAGES)
    with pytest.raises(KernelToolchainError) as e:
        _assemble(lock, KernelToolchainRequest(("dwarves",), "the kernel build of //k:btf"))
    assert "but dwarves, needed by the kernel build of //k:btf, is not" in str(e.value)
    assert 'packages.add = ["dwarves"]' in str(e.value)


def test_toolchain_package_whose_download_changed(tmp_path) -> None:
    """A toolchain package whose .deb on the mirror no longer matches the lock (a real download
    through the engine, from a file:// mirror): the lock's re-lock advice, naming the package."""
    package = _lock(["make"]).get("make")
    assert package is not None
    served = tmp_path / "mirror" / package.filename
    served.parent.mkdir(parents=True)
    served.write_bytes(b"not the locked make\n")
    rule_runner = RuleRunner(
        rules=[download_deb, *DebianArchiveSubsystem.rules(), QueryRule(DownloadedDeb, [DebianDownloadRequest])],
    )
    rule_runner.set_options([f"--debian-archive-mirror=file://{tmp_path / 'mirror'}"])
    with pytest.raises(Exception) as e:
        rule_runner.request(
            DownloadedDeb, [DebianDownloadRequest(package, "the kernel build of 3rdparty/kernel:linux")]
        )
    text = str(e.value)
    assert "DebianLockError" in text
    assert "Fetching the Debian package make 1.0-1 (for the kernel build of 3rdparty/kernel:linux)" in text
    assert "did not match the lock (10 bytes with sha256 " + "a" * 64 in text
    assert f"Re-lock with `{REGENERATE_COMMAND}`" in text


@pytest.mark.parametrize(
    "line, name, package, kind",
    [
        ("/bin/sh: 1: openssl: not found", "openssl", "openssl", "command"),
        ("bash: line 1: pahole: command not found", "pahole", "dwarves", "command"),
        ("  BTF: .tmp_vmlinux.btf: pahole (pahole) is not available", "pahole", "dwarves", "command"),
        ("make[2]: lzop: No such file or directory", "lzop", "lzop", "command"),
        # Seen building CONFIG_DEBUG_INFO_BTF (tools/bpf/resolve_btfids runs a python3 script).
        ("/usr/bin/env: 'python3': No such file or directory", "python3", "python3", "command"),
        ("./scripts/foo.sh: line 12: frobnicate: command not found", "frobnicate", None, "command"),
        (
            "scripts/sign-file.c:25:10: fatal error: openssl/opensslv.h: No such file or directory",
            "openssl/opensslv.h", "libssl-dev", "header",
        ),
    ],
)
def test_find_missing_tools(line: str, name: str, package, kind: str) -> None:
    output = f"  CC      init/main.o\n{line}\nmake[1]: *** [Makefile:1234: vmlinux] Error 127\n"
    assert [(t.name, t.package, t.kind) for t in find_missing_tools(output)] == [(name, package, kind)]


def test_ordinary_failures_name_no_tool() -> None:
    output = (
        "init/main.c:1:1: error: expected ';' before '}' token\n"
        "make[2]: *** No rule to make target 'foo.o', needed by 'built-in.a'.  Stop.\n"
        "grep: .config: No such file or directory\n"
        "make: *** [Makefile:1988: .] Error 2\n"
    )
    assert find_missing_tools(output) == []


def test_missing_tools_message_names_tool_package_and_fix() -> None:
    text = missing_tools_message(find_missing_tools("/bin/sh: 1: pahole: not found\n"), "//k:btf")
    assert "the command `pahole`: Debian package `dwarves`" in text
    assert "`toolchain_packages` field of //k:btf" in text
    assert 'packages.add = ["dwarves"]' in text and f"./{REGENERATE_COMMAND}" in text


def test_sandbox_argv_holds_the_whole_environment() -> None:
    argv = sandbox_argv({"B": "2", **SANDBOX_ENV}, "/build", ("/bin/bash", "/build/x.sh"))
    assert argv[0] == "./toolchain_sandbox"
    assert argv[-4:] == ("tree", "/build", "/bin/bash", "/build/x.sh")
    env = [argv[i + 1] for i, a in enumerate(argv[:-4]) if a == "-e"]
    assert env == sorted(env) and "PATH=/usr/bin:/bin" in env and "B=2" in env


def test_kconfig_dependency_on_a_missing_tool_names_its_package() -> None:
    problem = (
        "user/btf.config:1: asked for `CONFIG_DEBUG_INFO_BTF=y` but Kconfig gave "
        "`# CONFIG_DEBUG_INFO_BTF is not set` (depends on !DEBUG_INFO_DWARF5 || PAHOLE_VERSION >= 121); "
        "enable what it depends on in a fragment"
    )
    (hint,) = kconfig_tool_hints([problem], "//k:btf")
    assert "`pahole`" in hint and "`dwarves`" in hint and "`toolchain_packages` field of //k:btf" in hint
    assert kconfig_tool_hints(["x.config:2: CONFIG_FOO does not exist"], "//k:x") == []
