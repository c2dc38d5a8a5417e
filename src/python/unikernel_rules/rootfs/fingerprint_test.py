from __future__ import annotations

import platform
import sys

from unikernel_rules.rootfs.rules import script_python_fingerprint


def test_script_python_fingerprint_has_versions_but_no_build_date() -> None:
    fp = script_python_fingerprint()
    assert platform.python_version() in fp and "zlib " in fp
    # sys.version holds the build date and compiler ("main, May  9 2026, ...  [GCC 12.2.0]"),
    # which differ between machines and would split a shared remote cache.
    assert sys.version not in fp and "(" not in fp and "GCC" not in fp
