from pants.engine.fs import Directory, FileDigest, FileEntry, SymlinkEntry

from unikernel_rules.sbom.rules import package_file_digests


def test_a_symlink_to_a_packaged_file_counts_as_that_file() -> None:
    entries = [
        Directory("usr/lib/python3.11"),
        FileEntry("usr/lib/python3.11/_sysconfigdata__x86_64-linux-gnu.py", FileDigest("a" * 64, 10)),
        SymlinkEntry("usr/lib/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py", "_sysconfigdata__x86_64-linux-gnu.py"),
        SymlinkEntry("usr/lib/dangling", "nowhere"),
    ]
    assert dict(package_file_digests(entries)) == {
        "usr/lib/python3.11/_sysconfigdata__x86_64-linux-gnu.py": "a" * 64,
        "usr/lib/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py": "a" * 64,
        "usr/lib/dangling": "",  # e.g. a link into another package
    }
