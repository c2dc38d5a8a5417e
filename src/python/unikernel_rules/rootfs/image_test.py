from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import sys

from pants.core.util_rules import system_binaries
from pants.engine.fs import CreateDigest, Digest, DigestContents, FileContent, SymlinkEntry
from pants.engine.fs import EMPTY_DIGEST
from pants.engine.rules import QueryRule, rule
from pants.testutil.rule_runner import RuleRunner

from unikernel_rules.debian.tool_python import ToolPython, ToolPythonRequest
from unikernel_rules.rootfs import image
from unikernel_rules.rootfs.image import Mksquashfs, RootfsImage, RootfsImageRequest

pytestmark = pytest.mark.skipif(
    shutil.which("mksquashfs") is None and not os.path.exists("/usr/bin/mksquashfs"),
    reason="mksquashfs (squashfs-tools) not installed",
)


@rule
async def host_mksquashfs() -> Mksquashfs:
    """The host's mksquashfs instead of the Debian-locked one (which needs the archive)."""
    path = shutil.which("mksquashfs") or "/usr/bin/mksquashfs"
    return Mksquashfs(digest=EMPTY_DIGEST, argv=(path,), fingerprint="host")


@rule
async def host_tool_python(_: ToolPythonRequest) -> ToolPython:
    """The test's own Python instead of the Debian-locked one (which needs the archive)."""
    return ToolPython(EMPTY_DIGEST, (sys.executable,))


@pytest.fixture
def rule_runner() -> RuleRunner:
    return RuleRunner(
        rules=[
            image.build_rootfs_image,
            host_mksquashfs,
            host_tool_python,
            *system_binaries.rules(),
            QueryRule(RootfsImage, [RootfsImageRequest]),
            QueryRule(Digest, [CreateDigest]),
            QueryRule(DigestContents, [Digest]),
        ]
    )


def test_image_with_symlinks_and_mount_points(rule_runner: RuleRunner, tmp_path) -> None:
    rootfs = rule_runner.request(
        Digest,
        [
            CreateDigest(
                [
                    FileContent("app/hello", b"\x7fELF" + b"x" * 5000, is_executable=True),
                    FileContent("usr/lib/python3.11/os.py", b"import sys\n" * 1000),
                    SymlinkEntry("app/link", "hello"),
                    SymlinkEntry("usr/lib/python3", "python3.11"),
                ]
            )
        ],
    )
    built = rule_runner.request(RootfsImage, [RootfsImageRequest(rootfs, "test image")])
    assert built.files == 4
    assert built.unpacked_bytes == 5004 + 11000
    contents = rule_runner.request(DigestContents, [built.digest])
    assert [fc.path for fc in contents] == ["rootfs.img"]
    data = contents[0].content
    assert data[:4] == b"hsqs" and len(data) == built.image_bytes
    if shutil.which("unsquashfs"):
        img = tmp_path / "rootfs.img"
        img.write_bytes(data)
        listing = subprocess.run(["unsquashfs", "-lln", str(img)], capture_output=True, check=True).stdout.decode()
        assert "squashfs-root/app/link -> hello" in listing
        assert "squashfs-root/usr/lib/python3 -> python3.11" in listing
        assert "-rwxr-xr-x 0/0" in next(l for l in listing.splitlines() if l.endswith("app/hello"))
        for mount_point in ("dev", "proc", "sys", "tmp"):
            assert f"squashfs-root/{mount_point}\n" in listing + "\n"
