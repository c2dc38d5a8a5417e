"""The Debian package lock end to end: generation, extraction, and every download/lock error.

A tiny test-only plugin (`debian-probe` goal, written into the repo copy) asks for
`DebianTree`/`DebianPackages` of some roots, lists the tree and runs one ELF of it through
`debian_binary_argv`. That is the cheapest real consumer of the API: no kernel or image build.
"""

from __future__ import annotations

import json

from typing import Iterator

import pytest

from pants_repo import RepoCopy

PROBE_PLUGIN = '''
from __future__ import annotations

from pants.engine.console import Console
from pants.engine.fs import AddPrefix, Digest, DigestEntries, SymlinkEntry, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.process import Process, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule
from pants.option.option_types import StrListOption, StrOption

from unikernel_rules.debian.rules import (
    DebianPackages, DebianPackagesRequest, DebianTree, debian_binary_argv,
)


class ProbeSubsystem(GoalSubsystem):
    name = "debian-probe"
    help = "Test only: fetch and extract locked Debian packages."
    roots = StrListOption(help="roots")
    run = StrOption(default=None, help="tree-relative ELF to run")
    args = StrListOption(help="its arguments")


class Probe(Goal):
    subsystem_cls = ProbeSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def probe(sub: ProbeSubsystem, console: Console, workspace: Workspace) -> Probe:
    req = DebianPackagesRequest(tuple(sub.roots), "the debian-probe goal")
    tree, debs = await MultiGet(
        Get(DebianTree, DebianPackagesRequest, req), Get(DebianPackages, DebianPackagesRequest, req)
    )
    for p in debs.packages:
        console.print_stdout(f"package {p.name} {p.version}")
    for e in await Get(DigestEntries, Digest, debs.debs):
        console.print_stdout(f"deb {e.path}")
    for e in await Get(DigestEntries, Digest, tree.digest):
        if isinstance(e, SymlinkEntry):
            console.print_stdout(f"symlink {e.path} -> {e.target}")
    if sub.run:
        result = await Get(
            ProcessResult,
            Process(
                argv=(*debian_binary_argv("tree", sub.run), *sub.args),
                input_digest=await Get(Digest, AddPrefix(tree.digest, "tree")),
                description=f"run {sub.run}",
                env={"PATH": ""},
            ),
        )
        console.print_stdout("ran: " + (result.stdout + result.stderr).decode(errors="replace"))
    return Probe(exit_code=0)


def rules():
    return collect_rules()
'''

PROBE_ARGS = ("--backend-packages=+['debian_probe']",)
LOCK = "3rdparty/debian/debian.lock"
RELOCK = "pants generate-lockfiles --resolve=debian"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("debian-lock") / "repo")
    repo.write("src/python/debian_probe/__init__.py", "")
    repo.write("src/python/debian_probe/register.py", PROBE_PLUGIN)
    yield repo
    repo.cleanup()


def _lock(repo: RepoCopy) -> dict:
    return json.loads((repo.root / LOCK).read_text())


def _write_lock(repo: RepoCopy, name: str, edit) -> str:
    data = _lock(repo)
    edit(data["packages"])
    path = f"3rdparty/debian/{name}.lock"
    repo.write(path, json.dumps(data, indent=2, sort_keys=True))
    return path


def _probe(repo: RepoCopy, *args: str, lockfile: str = LOCK):
    return repo.run(*PROBE_ARGS, f"--debian-lock-lockfile={lockfile}", "debian-probe", *args)


def _fails_with(result, expect) -> None:
    result.assert_failure()
    for fragment in expect:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert "Traceback (most recent call last)" not in result.stderr


def test_generate_lockfiles_reproduces_the_committed_lock(repo: RepoCopy) -> None:
    committed = _lock(repo)
    (repo.root / LOCK).unlink()
    result = repo.run("generate-lockfiles", "--resolve=debian")
    result.assert_success()
    generated = _lock(repo)
    assert sorted(generated["packages"]) == sorted(committed["packages"])
    for key in ("inputs_sha256", "requested", "suites", "components", "architecture", "//"):
        assert generated[key] == committed[key]
    assert generated["packages"]["linux-source-6.1"]["version"] == "6.1.176-1"
    # Stable formatting: the same archive state renders the same bytes.
    assert (repo.root / LOCK).read_text() == json.dumps(generated, indent=2, sort_keys=True) + "\n"


def test_tree_runs_a_locked_binary_with_its_own_loader(repo: RepoCopy) -> None:
    result = _probe(repo, "--debian-probe-roots=['squashfs-tools']", "--debian-probe-run=usr/bin/mksquashfs", "--debian-probe-args=['-version']")
    result.assert_success()
    out = result.stdout
    assert "package squashfs-tools 1:4.5.1-1" in out and "package libc6 " in out
    assert "deb debs/squashfs-tools_1%3a4.5.1-1_amd64.deb" in out
    # Symlinks survive, absolute targets made relative to the tree.
    assert "symlink lib64/ld-linux-x86-64.so.2 -> ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" in out
    assert "mksquashfs version 4.5.1" in out


def test_root_missing_from_the_lock(repo: RepoCopy) -> None:
    _fails_with(
        _probe(repo, "--debian-probe-roots=['cowsay']"),
        ["the debian-probe goal needs the Debian package cowsay", "not in the Debian lockfile",
         "`[debian-lock].packages`", RELOCK],
    )


def test_sha256_mismatch(repo: RepoCopy) -> None:
    def tamper(packages):
        packages["liblzo2-2"]["sha256"] = "0" * 64
    lockfile = _write_lock(repo, "tampered", tamper)
    _fails_with(
        _probe(repo, "--debian-probe-roots=['squashfs-tools']", lockfile=lockfile),
        ["Fetching the Debian package liblzo2-2", "pool/main/l/lzo2/liblzo2-2_", "did not match the lock",
         "tampered with or changed", f"Re-lock with `{RELOCK}`"],
    )


def test_vanished_archive_file(repo: RepoCopy) -> None:
    def vanish(packages):
        packages["liblzo2-2"]["filename"] = "pool/main/l/lzo2/liblzo2-2_0.0-0_amd64.deb"
        packages["liblzo2-2"]["sha256"] = "1" * 64
    lockfile = _write_lock(repo, "vanished", vanish)
    _fails_with(
        _probe(repo, "--debian-probe-roots=['squashfs-tools']", lockfile=lockfile),
        ["Fetching the Debian package liblzo2-2", "liblzo2-2_0.0-0_amd64.deb has vanished from the archive (HTTP 404)",
         f"Re-lock with `{RELOCK}`"],
    )


def test_missing_and_unparsable_lockfile(repo: RepoCopy) -> None:
    _fails_with(
        _probe(repo, "--debian-probe-roots=['squashfs-tools']", lockfile="3rdparty/debian/nope.lock"),
        ["The Debian lockfile 3rdparty/debian/nope.lock", "does not exist", RELOCK],
    )
    repo.write("3rdparty/debian/broken.lock", "{ this is not json")
    _fails_with(
        _probe(repo, "--debian-probe-roots=['squashfs-tools']", lockfile="3rdparty/debian/broken.lock"),
        ["The Debian lockfile 3rdparty/debian/broken.lock cannot be read", "not valid JSON", RELOCK],
    )
