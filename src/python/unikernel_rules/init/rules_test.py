from __future__ import annotations

from unikernel_rules.init.rules import init_sources


def test_init_sources_are_every_c_and_h_file_sorted() -> None:
    # Runs from the plugin's resources: a file missing from ../BUILD's `data` is missing here.
    names = [f.path for f in init_sources()]
    assert names == sorted(names)
    assert all(name.endswith((".c", ".h")) for name in names)
    expected = {"init.h", "main.c", "log.c", "config.c", "setup.c", "storage.c", "gpt.c", "run.c"}
    assert expected <= set(names)


def test_every_c_file_uses_the_shared_header() -> None:
    for source in init_sources():
        if source.path.endswith(".c"):
            assert b'#include "init.h"' in source.content, source.path
