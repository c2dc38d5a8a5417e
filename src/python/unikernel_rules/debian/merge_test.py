from __future__ import annotations

import pytest
from pants.engine.fs import CreateDigest, Digest, Directory, FileContent, FileEntry, SymlinkEntry
from pants.engine.internals.native_engine import FileDigest
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from unikernel_rules.debian import merge
from unikernel_rules.debian.merge import Conflict, MergedPackageTrees, MergePackageTrees, first_conflict

A = FileDigest("a" * 64, 1)
B = FileDigest("b" * 64, 1)


def test_identical_paths_and_repeated_directories_merge() -> None:
    trees = [
        ("libc6", [Directory("usr"), FileEntry("usr/lib/x", A), SymlinkEntry("lib64", "lib")]),
        ("libc6-dev", [Directory("usr"), FileEntry("usr/lib/x", A), SymlinkEntry("lib64", "lib")]),
    ]
    assert first_conflict(trees) is None


@pytest.mark.parametrize(
    "second",
    [FileEntry("usr/lib/x", B), FileEntry("usr/lib/x", A, is_executable=True), SymlinkEntry("usr/lib/x", "y"), Directory("usr/lib/x")],
)
def test_a_path_shipped_differently_names_both_packages(second) -> None:
    trees = [("gcc-12", [FileEntry("usr/lib/x", A)]), ("cpp-12", [Directory("usr"), second])]
    assert first_conflict(trees) == Conflict("usr/lib/x", "gcc-12", "cpp-12")


@pytest.fixture
def rule_runner() -> RuleRunner:
    return RuleRunner(
        rules=[*merge.rules(), QueryRule(MergedPackageTrees, [MergePackageTrees]), QueryRule(Digest, [CreateDigest])]
    )


def test_merge_rule_merges_and_reports_a_conflict(rule_runner: RuleRunner) -> None:
    def tree(*files: FileContent) -> Digest:
        return rule_runner.request(Digest, [CreateDigest([Directory("usr"), *files])])

    a = tree(FileContent("usr/bin/make", b"make"))
    b = tree(FileContent("usr/bin/flex", b"flex"), FileContent("usr/bin/make", b"make"))
    merged = rule_runner.request(MergedPackageTrees, [MergePackageTrees((("make", a), ("flex", b)), "the toolchain")])
    assert merged.digest == tree(FileContent("usr/bin/flex", b"flex"), FileContent("usr/bin/make", b"make"))

    c = tree(FileContent("usr/bin/make", b"other make"))
    with pytest.raises(ExecutionError) as e:
        rule_runner.request(MergedPackageTrees, [MergePackageTrees((("make", a), ("remake", c)), "the toolchain")])
    message = str(e.value)
    assert "The Debian packages make and remake both ship usr/bin/make with different contents" in message
    assert "for the toolchain" in message and "generate-lockfiles" in message
