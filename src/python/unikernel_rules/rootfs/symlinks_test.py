from __future__ import annotations

from pants.engine.fs import EMPTY_FILE_DIGEST, FileEntry, SymlinkEntry

from unikernel_rules.rootfs.symlinks import follow, link_target


def test_link_target() -> None:
    assert link_target("usr/share/zoneinfo/UTC", "Etc/UTC") == "usr/share/zoneinfo/Etc/UTC"
    assert link_target("bin", "usr/bin") == "usr/bin"
    assert link_target("a/b", "/usr//lib/../bin") == "usr/bin"


def test_follow_links_and_linked_parents_with_a_limit() -> None:
    f = FileEntry("usr/bin/python3.11", EMPTY_FILE_DIGEST)
    entries = {
        f.path: f,
        "usr/bin/python3": SymlinkEntry("usr/bin/python3", "python3.11"),
        "bin": SymlinkEntry("bin", "usr/bin"),
        "loop": SymlinkEntry("loop", "loop"),
    }
    assert follow(entries, "bin/python3") == (f, "usr/bin/python3.11")
    assert follow(entries, "usr/bin/missing") == (None, "usr/bin/missing")
    assert follow(entries, "loop")[0] is None
