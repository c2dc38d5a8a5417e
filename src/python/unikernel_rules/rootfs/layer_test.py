from __future__ import annotations

from unikernel_rules.rootfs import layer


def test_select_keeps_prefixes_and_drops_patterns() -> None:
    paths = [
        "usr/bin/python3.11",
        "usr/bin/perl",
        "usr/lib/python3.11/os.py",
        "usr/lib/python3.11/test/test_os.py",
        "usr/lib/python3.11/email/tests/x.py",
        "usr/lib/python3.11/lib-dynload/_ssl.so",
        "usr/lib/python3.11/lib-dynload/_testcapi.so",
    ]
    keep = ["usr/bin/python3.11", "usr/lib/python3.11/"]
    drop = ["usr/lib/python3.11/test/*", "usr/lib/python3.11/*/tests/*", "usr/lib/python3.11/lib-dynload/_test*"]
    assert layer.select(paths, keep, drop) == [
        "usr/bin/python3.11",
        "usr/lib/python3.11/os.py",
        "usr/lib/python3.11/lib-dynload/_ssl.so",
    ]
