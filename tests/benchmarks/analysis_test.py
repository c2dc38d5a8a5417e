"""Unit tests of the benchmark report's pure helpers: no Pants runs, no VMs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import List, Tuple

import pytest

from benchmarks import analysis, render, results, settings
from benchmarks.analysis import bisect_floor
from benchmarks.results import Probe, ReadyResult, RebuildResult

def _threshold(floor: int, calls: List[int]):
    def ok(m: int) -> Tuple[bool, str]:
        calls.append(m)
        return (m >= floor, "ok" if m >= floor else "too small")

    return ok


@pytest.mark.parametrize("floor", [8, 9, 13, 16, 17, 63, 64, 65, 100, 1000, 4096])
@pytest.mark.parametrize("start", [8, 64, 128])
def test_bisect_finds_least_working_size(floor: int, start: int) -> None:
    calls: List[int] = []
    result = bisect_floor(_threshold(floor, calls), start)
    assert result.floor_mib == floor
    assert [p.memory_mib for p in result.probes] == calls
    assert all(p.ok == (p.memory_mib >= floor) for p in result.probes)
    # Both neighbours were established: floor works, floor - 1 failed (unless floor is the lower bound).
    assert any(p.memory_mib == floor and p.ok for p in result.probes)
    if floor > results.FLOOR_LOWER_MIB:
        assert any(p.memory_mib == floor - 1 and not p.ok for p in result.probes)
    assert len(calls) <= 24


def test_bisect_starts_at_start_and_doubles() -> None:
    calls: List[int] = []
    bisect_floor(_threshold(300, calls), 64)
    assert calls[:4] == [64, 128, 256, 512]


def test_bisect_works_at_start_never_goes_above_it() -> None:
    calls: List[int] = []
    result = bisect_floor(_threshold(13, calls), 64)
    assert calls[0] == 64
    assert max(calls) == 64
    assert result.floor_mib == 13
    assert result.below() == Probe(12, False, "too small")


def test_bisect_nothing_works() -> None:
    calls: List[int] = []
    result = bisect_floor(lambda m: (calls.append(m) or False, "panic"), 64, upper=4096)
    assert result.floor_mib is None
    assert calls == [64, 128, 256, 512, 1024, 2048, 4096]
    assert result.below() is None


def test_bisect_caps_at_upper_bound() -> None:
    calls: List[int] = []
    result = bisect_floor(_threshold(3000, calls), 1500, upper=4096)
    assert calls[:3] == [1500, 3000, 2250]
    assert result.floor_mib == 3000
    assert max(calls) <= 4096
    calls = []
    assert bisect_floor(_threshold(4000, calls), 3000, upper=4096).floor_mib == 4000
    assert calls[:2] == [3000, 4096]


def test_bisect_start_below_lower_bound() -> None:
    calls: List[int] = []
    assert bisect_floor(_threshold(8, calls), 4).floor_mib == 8
    assert calls[0] == 8


def test_parse_ready_ms() -> None:
    line = "hello_http: READY port=8080 monotonic_ms=273.416"
    assert analysis.parse_ready_ms(line, settings.DEFAULT_READY) == 273.416
    assert analysis.parse_ready_ms("app READY monotonic_ms=12", settings.DEFAULT_READY) == 12.0
    assert analysis.parse_ready_ms("READY but no number", settings.DEFAULT_READY) is None
    assert analysis.parse_ready_ms(None, settings.DEFAULT_READY) is None
    assert analysis.parse_ready_ms(line, r"READY") is None  # no group
    assert analysis.parse_ready_ms("ready after 1.5 ms", r"ready after ([0-9.]+) ms") == 1.5


def test_address_dir() -> None:
    assert analysis.address_dir("testprojects/c/hello_http:image") == "testprojects/c/hello_http"
    assert analysis.address_dir("testprojects/c/hello_http") == "testprojects/c/hello_http"
    assert analysis.address_dir("testprojects/py/app/main.py:lib") == "testprojects/py/app"
    assert analysis.address_dir("//:root") == ""


def test_dep_source_files() -> None:
    entries = [
        # c_program: peek's hydrated `sources` may be the (empty) headers field; the raw globs count.
        {"address": "testprojects/c/hello_http:app", "sources": [], "sources_raw": ["main.c", "!skip.c"]},
        {"address": "testprojects/c/hello_http/lib:lib", "sources": ["testprojects/c/hello_http/lib/response.h"],
         "sources_raw": None},
        {"address": "testprojects/py/app/main.py:lib", "sources": ["testprojects/py/app/main.py"],
         "source_raw": "main.py"},
        {"address": "3rdparty/kernel:linux", "fragments_raw": ["*.config"]},
    ]
    expanded: List[str] = []

    def expand(pattern: str) -> List[str]:
        expanded.append(pattern)
        return [pattern] if "*" not in pattern else []

    files = analysis.dep_source_files(entries, expand)
    assert files == [
        "testprojects/c/hello_http/lib/response.h",
        "testprojects/c/hello_http/main.c",
        "testprojects/py/app/main.py",
    ]
    assert expanded == ["testprojects/c/hello_http/main.c", "testprojects/py/app/main.py"]


def test_skip_reason() -> None:
    assert analysis.skip_reason("testprojects/bad/x:image", []) == "under testprojects/bad/"
    assert analysis.skip_reason("testprojects/bad:image", []) == "under testprojects/bad/"
    assert analysis.skip_reason("testprojects/badly:image", []) is None
    assert analysis.skip_reason("testprojects/c/a:image", ["no-benchmark"]) == 'tag "no-benchmark"'
    assert analysis.skip_reason("testprojects/c/a:image", ["integration"]) is None


@pytest.mark.parametrize(
    "patterns, expected",
    [
        ([], True),
        (["testprojects/c/hello_http:image"], True),
        (["testprojects/c/*"], True),
        (["testprojects/c/hello_http"], True),
        (["testprojects/c::"], True),
        (["testprojects/python/*"], False),
        (["*:other"], False),
        (["testprojects/python/*", "*hello_http*"], True),
    ],
)
def test_matches_filters(patterns: List[str], expected: bool) -> None:
    assert analysis.matches_filters("testprojects/c/hello_http:image", patterns) is expected


def test_completed_lines() -> None:
    stderr = "\n".join(
        [
            "20:39:12.34 [INFO] Initializing scheduler...",
            "20:39:15.00 [INFO] Completed: Compiling and linking testprojects/c/hello_http:app (zig cc, static musl)",
            "20:39:16.00 [INFO] Completed: Building the Linux 6.1.176 kernel of 3rdparty/kernel:linux (several minutes, cached)",
            "20:39:17.00 [INFO] Wrote dist/testprojects.c.hello_http/image/kernel",
            "20:39:18.00 [INFO] Completed: Compiling and linking testprojects/c/hello_http:app (zig cc, static musl)",
        ]
    )
    lines = analysis.completed_lines(stderr)
    assert lines == [
        "Building the Linux 6.1.176 kernel of 3rdparty/kernel:linux (several minutes, cached)",
        "Compiling and linking testprojects/c/hello_http:app (zig cc, static musl)",
    ]
    rb = RebuildResult(mode="fresh", wall_s=1.0, completed=lines)
    assert rb.kernel_rebuilt is True
    assert RebuildResult(mode="fresh", wall_s=1.0, completed=lines[1:]).kernel_rebuilt is False
    assert RebuildResult(mode="fresh").kernel_rebuilt is None


def test_processes_run_from_the_stats_log() -> None:
    stderr = (
        "14:44:31.24 [INFO] Completed: Compiling and linking x:app (zig cc, static musl)\n"
        "14:44:33.10 [INFO] Counters:\n  local_cache_requests: 107\n  local_cache_requests_cached: 104\n"
        "  local_cache_requests_uncached: 3\n  local_execution_requests: 3\n"
    )
    assert analysis.processes_run(stderr) == 3
    assert analysis.processes_run("14:44:31.24 [INFO] Completed: x\n") is None


def test_pick_main_source() -> None:
    files = [
        "3rdparty/kernel/BUILD",
        "testprojects/c/hello_http/BUILD",
        "testprojects/c/hello_http/lib/response.c",
        "testprojects/c/hello_http/main.c",
        "src/other/zzz.c",
    ]
    assert analysis.pick_main_source(files, "c", "testprojects/c/hello_http") == "testprojects/c/hello_http/main.c"
    assert analysis.pick_main_source(["a/x/app.py", "a/x/util.py", "a/x/BUILD"], "python", "a/x") == "a/x/app.py"
    assert analysis.pick_main_source(["a/x/b.py", "a/x/a.py"], "python", "a/x") == "a/x/a.py"
    assert analysis.pick_main_source(["a/x/Hello.java"], "java", "a/x") == "a/x/Hello.java"
    assert analysis.pick_main_source(["a/x/BUILD"], "c", "a/x") is None
    assert analysis.pick_main_source(["other/y.c", "a/x/z.c"], "c", "a/x") == "a/x/z.c"


def test_append_comment() -> None:
    assert analysis.append_comment("int x;", "a/main.c", "abc") == "int x;\n// benchmark edit abc\n"
    assert analysis.append_comment("x = 1\n", "a/app.py", "abc") == "x = 1\n# benchmark edit abc\n"
    assert analysis.append_comment("class A {}\n", "A.java", "n").endswith("\n// benchmark edit n\n")


def test_bundle_sizes_from_manifest() -> None:
    manifest = {"files": {"kernel": {"size": 1000}, "initrd": {"size": 200}, "cmdline": {"size": 7}}}
    assert analysis.bundle_sizes(manifest) == {"kernel": 1000, "initrd": 200, "total": 1200}


def _boot(**kw):
    base = dict(
        timed_out=False, panicked=False, panic_line=None, app_exit=None, ready_line="READY monotonic_ms=1",
        exit_code=0, http_status=200, http_error=None, output="READY monotonic_ms=1\n",
    )
    base.update(kw)
    return SimpleNamespace(**base)


def test_classify_boot() -> None:
    assert analysis.classify_boot(_boot(), True) == (True, "ok")
    assert analysis.classify_boot(_boot(timed_out=True, exit_code=124), True)[0] is False
    ok, what = analysis.classify_boot(_boot(panicked=True, panic_line="Kernel panic - not syncing: OOM", exit_code=1), True)
    assert not ok and "panic" in what
    ok, what = analysis.classify_boot(_boot(ready_line=None, app_exit=125, exit_code=125), True)
    assert not ok and "125" in what
    ok, what = analysis.classify_boot(_boot(ready_line=None, exit_code=1, output=""), True)
    assert not ok and "no console output" in what
    ok, what = analysis.classify_boot(_boot(http_status=None, http_error="ConnectionResetError", exit_code=1), True)
    assert not ok and "ConnectionResetError" in what
    assert analysis.classify_boot(_boot(http_status=None), False) == (True, "ok")


def test_ready_result_determinism() -> None:
    assert ReadyResult(virtual_ms=[1.0, 1.0]).deterministic is True
    assert ReadyResult(virtual_ms=[1.0, 1.5]).deterministic is False
    assert ReadyResult(virtual_ms=[1.0]).deterministic is None
    assert ReadyResult(virtual_ms=[1.0, None]).deterministic is None
    assert ReadyResult(virtual_ms=[2.0, 1.5]).ms == 2.0  # the slower boot
    assert ReadyResult(virtual_ms=[2.0, 1.5]).spread_ms == 0.5
    assert ReadyResult(virtual_ms=[]).ms is None



LAYER_LINE = "Building the CPython runtime: a runtime layer from 23 Debian packages"


def test_runtime_layer_rebuilt() -> None:
    assert render.RUNTIME_LAYER_MARKER in LAYER_LINE  # the plugin's own constant, not a copy
    stderr = f"00:01:02.03 [INFO] Completed: {LAYER_LINE}\n00:01:03.00 [INFO] Completed: Building the rootfs\n"
    lines = analysis.completed_lines(stderr)
    assert lines == [LAYER_LINE, "Building the rootfs"]
    rb = RebuildResult(mode="fresh", wall_s=1.0, completed=lines)
    assert rb.runtime_layer_rebuilt is True and rb.kernel_rebuilt is False
    assert RebuildResult(mode="fresh", wall_s=1.0, completed=lines[1:]).runtime_layer_rebuilt is False
    assert RebuildResult(mode="fresh").runtime_layer_rebuilt is None


def test_root_kind_and_ready_runs() -> None:
    assert results.root_kind({}) == "initramfs"
    assert results.root_kind({"root": {"kind": "initramfs"}}) == "initramfs"
    assert results.root_kind({"root": {"kind": "disk", "image": "rootfs.img"}}) == "disk"
    assert results.root_kind({"root": "weird"}) == "initramfs"
    assert analysis.ready_kernel_params({"root": {"kind": "initramfs"}}) == [("plain", [])]
    assert analysis.ready_kernel_params({"root": {"kind": "disk"}}) == [("plain", []), ("idle=poll", ["idle=poll"])]


def test_find_main_source_follows_a_pex_binary_to_its_entry_point() -> None:
    # Shaped like `peek testprojects/python/hello_http::`: the pex_binary has no sources, only a
    # dependency on the generated target of its entry point.
    entries = {
        "p/h:image": {"address": "p/h:image", "dependencies": ["p/h:app"]},
        "p/h:app": {"address": "p/h:app", "dependencies": ["p/h/main.py"], "entry_point": {"module": "main.py"}},
        "p/h/main.py": {"address": "p/h/main.py", "dependencies": ["3rdparty/python:markupsafe"],
                        "sources": ["p/h/main.py"], "source_raw": "main.py"},
    }
    expand = lambda pattern: []  # noqa: E731
    assert analysis.find_main_source("p/h:image", entries, "python", expand) == ("p/h/main.py", [])
    # Only one level: the entry point is not reached, and the third-party dependency is not looked up.
    assert analysis.find_main_source("p/h:image", entries, "python", expand, max_depth=1) == (None, [])
    # A dependency without a peek entry is reported, to be looked up.
    entries["p/h:app"]["dependencies"] = ["elsewhere/x.py"]
    assert analysis.find_main_source("p/h:image", entries, "python", expand) == (None, ["elsewhere/x.py"])
    # A C image finds its source among the direct dependencies (one level).
    c = {
        "c/h:image": {"address": "c/h:image", "dependencies": ["c/h:app"]},
        "c/h:app": {"address": "c/h:app", "dependencies": ["c/h/lib:lib"], "sources": ["c/h/main.c"]},
    }
    assert analysis.find_main_source("c/h:image", c, "c", expand) == ("c/h/main.c", [])


