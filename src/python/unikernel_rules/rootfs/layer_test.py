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


def test_loader_argv_uses_the_layer_loader() -> None:
    argv = layer.loader_argv("rt", "usr/bin/python3.11")
    assert argv[0] == "rt/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert argv[1:3] == ["--library-path", "rt/lib/x86_64-linux-gnu:rt/usr/lib/x86_64-linux-gnu"]
    assert argv[-1] == "rt/usr/bin/python3.11"
