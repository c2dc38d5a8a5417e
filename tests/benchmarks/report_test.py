"""Unit tests of the benchmark report's pure parts: no Pants runs, no VMs."""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import List, Tuple

import pytest

from benchmarks import report
from benchmarks.report import (
    FloorResult,
    ImageReport,
    Machine,
    Probe,
    ReadyResult,
    RebuildResult,
    bisect_floor,
)


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
    if floor > report.FLOOR_LOWER_MIB:
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
    assert report.parse_ready_ms(line, report.DEFAULT_READY) == 273.416
    assert report.parse_ready_ms("app READY monotonic_ms=12", report.DEFAULT_READY) == 12.0
    assert report.parse_ready_ms("READY but no number", report.DEFAULT_READY) is None
    assert report.parse_ready_ms(None, report.DEFAULT_READY) is None
    assert report.parse_ready_ms(line, r"READY") is None  # no group
    assert report.parse_ready_ms("ready after 1.5 ms", r"ready after ([0-9.]+) ms") == 1.5


def test_address_dir() -> None:
    assert report.address_dir("testprojects/c/hello_http:image") == "testprojects/c/hello_http"
    assert report.address_dir("testprojects/c/hello_http") == "testprojects/c/hello_http"
    assert report.address_dir("testprojects/py/app/main.py:lib") == "testprojects/py/app"
    assert report.address_dir("//:root") == ""


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

    files = report.dep_source_files(entries, expand)
    assert files == [
        "testprojects/c/hello_http/lib/response.h",
        "testprojects/c/hello_http/main.c",
        "testprojects/py/app/main.py",
    ]
    assert expanded == ["testprojects/c/hello_http/main.c", "testprojects/py/app/main.py"]


def test_skip_reason() -> None:
    assert report.skip_reason("testprojects/bad/x:image", []) == "under testprojects/bad/"
    assert report.skip_reason("testprojects/bad:image", []) == "under testprojects/bad/"
    assert report.skip_reason("testprojects/badly:image", []) is None
    assert report.skip_reason("testprojects/c/a:image", ["no-benchmark"]) == 'tag "no-benchmark"'
    assert report.skip_reason("testprojects/c/a:image", ["integration"]) is None


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
    assert report.matches_filters("testprojects/c/hello_http:image", patterns) is expected


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
    lines = report.completed_lines(stderr)
    assert lines == [
        "Building the Linux 6.1.176 kernel of 3rdparty/kernel:linux (several minutes, cached)",
        "Compiling and linking testprojects/c/hello_http:app (zig cc, static musl)",
    ]
    rb = RebuildResult(mode="fresh", wall_s=1.0, completed=lines)
    assert rb.kernel_rebuilt is True
    assert RebuildResult(mode="fresh", wall_s=1.0, completed=lines[1:]).kernel_rebuilt is False
    assert RebuildResult(mode="fresh").kernel_rebuilt is None


def test_pick_main_source() -> None:
    files = [
        "3rdparty/kernel/BUILD",
        "testprojects/c/hello_http/BUILD",
        "testprojects/c/hello_http/lib/response.c",
        "testprojects/c/hello_http/main.c",
        "src/other/zzz.c",
    ]
    assert report.pick_main_source(files, "c", "testprojects/c/hello_http") == "testprojects/c/hello_http/main.c"
    assert report.pick_main_source(["a/x/app.py", "a/x/util.py", "a/x/BUILD"], "python", "a/x") == "a/x/app.py"
    assert report.pick_main_source(["a/x/b.py", "a/x/a.py"], "python", "a/x") == "a/x/a.py"
    assert report.pick_main_source(["a/x/Hello.java"], "java", "a/x") == "a/x/Hello.java"
    assert report.pick_main_source(["a/x/BUILD"], "c", "a/x") is None
    assert report.pick_main_source(["other/y.c", "a/x/z.c"], "c", "a/x") == "a/x/z.c"


def test_append_comment() -> None:
    assert report.append_comment("int x;", "a/main.c", "abc") == "int x;\n// benchmark edit abc\n"
    assert report.append_comment("x = 1\n", "a/app.py", "abc") == "x = 1\n# benchmark edit abc\n"
    assert report.append_comment("class A {}\n", "A.java", "n").endswith("\n// benchmark edit n\n")


def test_bundle_sizes_from_manifest() -> None:
    manifest = {"files": {"kernel": {"size": 1000}, "initrd": {"size": 200}, "cmdline": {"size": 7}}}
    assert report.bundle_sizes(manifest) == {"kernel": 1000, "initrd": 200, "total": 1200}


def _boot(**kw):
    base = dict(
        timed_out=False, panicked=False, panic_line=None, app_exit=None, ready_line="READY monotonic_ms=1",
        exit_code=0, http_status=200, http_error=None, output="READY monotonic_ms=1\n",
    )
    base.update(kw)
    return SimpleNamespace(**base)


def test_classify_boot() -> None:
    assert report.classify_boot(_boot(), True) == (True, "ok")
    assert report.classify_boot(_boot(timed_out=True, exit_code=124), True)[0] is False
    ok, what = report.classify_boot(_boot(panicked=True, panic_line="Kernel panic - not syncing: OOM", exit_code=1), True)
    assert not ok and "panic" in what
    ok, what = report.classify_boot(_boot(ready_line=None, app_exit=125, exit_code=125), True)
    assert not ok and "125" in what
    ok, what = report.classify_boot(_boot(ready_line=None, exit_code=1, output=""), True)
    assert not ok and "no console output" in what
    ok, what = report.classify_boot(_boot(http_status=None, http_error="ConnectionResetError", exit_code=1), True)
    assert not ok and "ConnectionResetError" in what
    assert report.classify_boot(_boot(http_status=None), False) == (True, "ok")


def test_ready_result_determinism() -> None:
    assert ReadyResult(virtual_ms=[1.0, 1.0]).deterministic is True
    assert ReadyResult(virtual_ms=[1.0, 1.5]).deterministic is False
    assert ReadyResult(virtual_ms=[1.0]).deterministic is None
    assert ReadyResult(virtual_ms=[1.0, None]).deterministic is None
    assert ReadyResult(virtual_ms=[2.0, 1.5]).ms == 2.0  # the slower boot
    assert ReadyResult(virtual_ms=[2.0, 1.5]).spread_ms == 0.5
    assert ReadyResult(virtual_ms=[]).ms is None


MACHINE = Machine(nproc=2, cpu_model="Test CPU", qemu="QEMU emulator version 7.2.0", kvm="not usable", pants="2.17.1")
WHEN = datetime.datetime(2026, 11, 27, 12, 34, tzinfo=datetime.timezone.utc)


def _c_report(address: str = "testprojects/c/hello_http:image", **kw) -> ImageReport:
    r = ImageReport(
        address=address,
        runtime="c",
        manifest={"kernel_version": "6.1.176", "memory_mib": 64, "memory_needed_mib": 13,
                  "ports": [{"host": 8080, "guest": 8080}],
                  "initrd": {"compression": "gzip", "entries": 11, "unpacked_bytes": 49742}},
        sizes={"kernel": 1_100_000, "initrd": 20_000, "total": 1_120_000},
        ready=ReadyResult(virtual_ms=[30.5, 30.5], wall_s=[2.0, 2.1], http_status=[200, 200]),
        floor=FloorResult(14, [Probe(64, True, "ok"), Probe(13, False, "initramfs unpacking failed"), Probe(14, True, "ok")], True),
        rebuilds=[
            RebuildResult("fresh", "testprojects/c/hello_http/main.c", wall_s=9.5, noop_wall_s=8.0,
                          completed=["Compiling and linking testprojects/c/hello_http:app (zig cc, static musl)"]),
            RebuildResult("pantsd", "testprojects/c/hello_http/main.c", wall_s=1.2, noop_wall_s=0.4, start_wall_s=20.0,
                          completed=["Compiling and linking testprojects/c/hello_http:app (zig cc, static musl)"]),
        ],
    )
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def test_render_markdown_table_and_goals() -> None:
    text = report.render_markdown([_c_report()], MACHINE, WHEN, static_notes={})
    assert text.startswith("# Benchmarks\n")
    assert "Generated 2026-11-27 12:34 UTC" in text
    assert "Test CPU" in text and "QEMU emulator version 7.2.0" in text and "KVM: not usable" in text
    row = next(line for line in text.splitlines() if line.startswith("| `testprojects/c/hello_http:image`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == [
        "`testprojects/c/hello_http:image`", "c", "1.12 MB ✅", "30.5 ms ✅", "14 MiB ✅", "9.5 s ❌", "1.2 s ✅", "no ✅",
        "no ✅",
    ]
    assert "| c | ≤ 1.5 MB | ≤ 40 ms | ≤ 16 MiB | ≤ 3 s | no | no |" in text
    assert "| runtime layer rebuilt (warm pantsd) | no | no | ✅ |" in text
    assert "Disk roots" in text  # the method explains the idle=poll measurement
    assert "plain icount" not in row
    assert "### What limits it" in text
    assert "at 13 MiB: initramfs unpacking failed" in text
    assert "(`memory_needed_mib`) is 13 MiB, 1 MiB too low; the image asks for 64 MiB." in text
    assert "kernel 98%" in text
    assert "Partial run" not in text


def test_render_markdown_failures_and_nondeterminism() -> None:
    r = _c_report(
        sizes={"kernel": 1_600_000, "initrd": 60_000, "total": 1_660_000},
        ready=ReadyResult(virtual_ms=[273.4, 273.5], wall_s=[2.0, 2.0], http_status=[200, 200]),
    )
    r.rebuilds[1].completed.append("Building the Linux 6.1.176 kernel of 3rdparty/kernel:linux (several minutes, cached)")
    text = report.render_markdown([r], MACHINE, WHEN, flags=["--quick"], static_notes={r.address: ["A hand note."]})
    row = next(line for line in text.splitlines() if line.startswith("| `testprojects/c/hello_http:image`"))
    assert "1.66 MB ❌" in row
    assert "273.5 ms ❌ (not deterministic: boots differ by 0.1 ms)" in row
    assert "| virtual time to READY | 273.4 ms / 273.5 ms (**not deterministic**, spread 0.1 ms) |" in text
    assert "Determinism: the boots reached READY 0.1 ms of guest time apart." in text
    assert row.rstrip().endswith("| yes ❌ | no ✅ |")
    assert "**Partial run** (`--quick`)" in text
    assert "- A hand note." in text
    assert "including the kernel build" in text


def test_render_markdown_is_sorted_and_deterministic() -> None:
    b = _c_report("testprojects/c/b:image")
    a = _c_report("testprojects/c/a:image", error="`pants package` failed:\nboom", sizes={}, ready=None,
                  floor=None, rebuilds=[])
    one = report.render_markdown([b, a], MACHINE, WHEN, skipped=[("testprojects/bad/x:image", "under testprojects/bad/")])
    two = report.render_markdown([a, b], MACHINE, WHEN, skipped=[("testprojects/bad/x:image", "under testprojects/bad/")])
    assert one == two
    assert one.index("## `testprojects/c/a:image`") < one.index("## `testprojects/c/b:image`")
    assert "| `testprojects/c/a:image` | c | ❌ `pants package` failed: | — |" in one
    assert "Not measured: `testprojects/bad/x:image` (under testprojects/bad/)." in one


def test_render_markdown_unmeasured_parts() -> None:
    r = _c_report(ready=None, floor=None, rebuilds=[])
    text = report.render_markdown([r], MACHINE, WHEN, static_notes={})
    row = next(line for line in text.splitlines() if line.startswith("| `testprojects/c/hello_http:image`"))
    assert [c.strip() for c in row.strip("|").split("|")][3:] == ["—", "—", "—", "—", "—", "—"]


def test_goals_cover_the_runtimes() -> None:
    assert sorted(report.GOALS) == ["c", "java", "python"]
    assert report.GOALS["c"].total_mb == 1.5 and report.GOALS["python"].ready_ms == 250
    assert report.GOALS["java"].floor_mib == 64 and report.GOALS["java"].rebuild_s == 8


def test_parse_args_and_flags() -> None:
    args = report.parse_args(["--images", "testprojects/c/*,testprojects/python/*", "--images", "x:y", "--quick"])
    assert args.images == ["testprojects/c/*", "testprojects/python/*", "x:y"]
    assert args.quick and not args.skip_floor and args.output == "docs/benchmarks.md"
    assert report._report_flags(args) == [
        "--images testprojects/c/*", "--images testprojects/python/*", "--images x:y", "--quick",
    ]
    assert report._report_flags(report.parse_args([])) == []


def test_rebuild_note_when_noop_is_slower() -> None:
    r = _c_report()
    r.rebuilds[0].noop_wall_s = 30.0
    r.rebuilds[0].wall_s = 28.0
    notes = report.measured_notes(r, pants_startup_s=26.0)
    fresh = next(n for n in notes if n.startswith("Rebuild in a fresh Pants process"))
    assert "lost in Pants's overhead" in fresh and "alone takes 26.0 s" in fresh
    pantsd = next(n for n in notes if n.startswith("Rebuild with a warm pantsd"))
    assert "33% is Pants's own overhead" in pantsd and "started pantsd took 20.0 s" in pantsd


LAYER_LINE = "Building the CPython runtime: a runtime layer from 23 Debian packages"


def test_runtime_layer_rebuilt() -> None:
    assert report.RUNTIME_LAYER_MARKER in LAYER_LINE  # the plugin's own constant, not a copy
    stderr = f"00:01:02.03 [INFO] Completed: {LAYER_LINE}\n00:01:03.00 [INFO] Completed: Building the rootfs\n"
    lines = report.completed_lines(stderr)
    assert lines == [LAYER_LINE, "Building the rootfs"]
    rb = RebuildResult(mode="fresh", wall_s=1.0, completed=lines)
    assert rb.runtime_layer_rebuilt is True and rb.kernel_rebuilt is False
    assert RebuildResult(mode="fresh", wall_s=1.0, completed=lines[1:]).runtime_layer_rebuilt is False
    assert RebuildResult(mode="fresh").runtime_layer_rebuilt is None


def test_root_kind_and_ready_runs() -> None:
    assert report.root_kind({}) == "initramfs"
    assert report.root_kind({"root": {"kind": "initramfs"}}) == "initramfs"
    assert report.root_kind({"root": {"kind": "disk", "image": "rootfs.img"}}) == "disk"
    assert report.root_kind({"root": "weird"}) == "initramfs"
    assert report.ready_kernel_params({"root": {"kind": "initramfs"}}) == [("plain", [])]
    assert report.ready_kernel_params({"root": {"kind": "disk"}}) == [("plain", []), ("idle=poll", ["idle=poll"])]


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
    assert report.find_main_source("p/h:image", entries, "python", expand) == ("p/h/main.py", [])
    # Only one level: the entry point is not reached, and the third-party dependency is not looked up.
    assert report.find_main_source("p/h:image", entries, "python", expand, max_depth=1) == (None, [])
    # A dependency without a peek entry is reported, to be looked up.
    entries["p/h:app"]["dependencies"] = ["elsewhere/x.py"]
    assert report.find_main_source("p/h:image", entries, "python", expand) == (None, ["elsewhere/x.py"])
    # A C image finds its source among the direct dependencies (one level).
    c = {
        "c/h:image": {"address": "c/h:image", "dependencies": ["c/h:app"]},
        "c/h:app": {"address": "c/h:app", "dependencies": ["c/h/lib:lib"], "sources": ["c/h/main.c"]},
    }
    assert report.find_main_source("c/h:image", c, "c", expand) == ("c/h/main.c", [])


def _disk_report(**kw) -> ImageReport:
    r = _c_report(
        "testprojects/python/hello_http:image",
        runtime="python",
        manifest={"kernel_version": "6.1.176", "memory_mib": 64, "ports": [{"host": 8080, "guest": 8080}],
                  "root": {"kind": "disk", "fstype": "squashfs", "compression": "lz4hc",
                           "unpacked_bytes": 40_000_000}},
        sizes={"kernel": 1_500_000, "initrd": 30_000, "rootfs.img": 17_000_000, "total": 18_530_000},
        ready=ReadyResult(virtual_ms=[1590.25, 1590.25], wall_s=[9.0, 9.1], http_status=[200, 200]),
        ready_poll=ReadyResult(virtual_ms=[339.1, 339.4], wall_s=[8.0, 8.2], http_status=[200, 200]),
    )
    r.rebuilds[0].completed = [LAYER_LINE, "Building the rootfs"]
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def test_render_disk_root_two_ready_figures() -> None:
    r = _disk_report()
    assert r.disk_root and r.goal_ready is r.ready_poll
    c = _c_report()
    assert c.goal_ready is c.ready
    text = report.render_markdown([r], MACHINE, WHEN, static_notes={})
    row = next(line for line in text.splitlines() if line.startswith("| `testprojects/python/hello_http:image`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # The goal (250 ms) is checked against the idle=poll figure only; the plain one has no check mark.
    assert cells[3] == "339.4 ms ❌ with `idle=poll`; plain icount 1590.25 ms"
    assert cells[-2:] == ["no ✅", "yes ❌"]  # kernel, runtime layer
    assert ("| virtual time to READY, plain icount | 1590.25 ms / 1590.25 ms (deterministic) "
            "| not checked (see the note on disk roots) |  |") in text
    assert ("| virtual time to READY, `idle=poll` (disk waits at real latency) | 339.1 ms / 339.4 ms "
            "(spread 0.3 ms; the slower counts) | ≤ 250 ms | ❌ |") in text
    assert "| HTTP status of `GET /`, `idle=poll` (disk waits at real latency) | 200 / 200 | 200 | ✅ |" in text
    assert "| runtime layer rebuilt (fresh Pants process, no pantsd) | yes | no | ❌ |" in text
    assert "| runtime layer rebuilt (warm pantsd) | no | no | ✅ |" in text
    notes = report.measured_notes(r)
    disk = next(n for n in notes if n.startswith("Disk root:"))
    assert "plain icount gives 1590.25 ms" in disk and "`idle=poll` gives 339.4 ms" in disk
    assert "1250.85 ms (79% of the plain figure)" in disk
    assert "next timer deadline" in disk and "not in the product's kernel command line" in disk
    boot = next(n for n in notes if n.startswith("Boot:"))
    assert boot.startswith("Boot: 339.4 ms of guest time to READY, 1.4× the goal.")
    assert "lz4hc squashfs image (17.00 MB, 40,000,000 bytes unpacked)" in boot
    assert "Not deterministic" not in text and "Determinism:" not in text
    assert "| wall time to READY under icount (this machine), plain icount | 9.0 s / 9.1 s | | |" in text
    # Plain icount of a disk root varies (disk reads complete in host time): said, and not checked.
    r.ready = ReadyResult(virtual_ms=[16654.728, 691.569], wall_s=[4.0, 3.6], http_status=[200, 200])
    assert "plain icount 16654.728 ms (not deterministic: boots differ by 15963.159 ms)" in report._summary_row(r)
    det = next(n for n in report.measured_notes(r) if n.startswith("Determinism:"))
    assert "for a disk root" in det and "not the one checked" in det
    assert next(n for n in report.measured_notes(_c_report(ready=ReadyResult(virtual_ms=[1.0, 2.0])))
                if n.startswith("Determinism:")).endswith("network timing.")
    assert any("including the runtime layer" in n for n in notes)


def test_render_disk_root_goal_met_and_missing_poll() -> None:
    r = _disk_report(ready_poll=ReadyResult(virtual_ms=[240.0, 240.2], wall_s=[8.0, 8.0], http_status=[200, 200]))
    row = report._summary_row(r)
    assert "240.2 ms ✅ with `idle=poll`; plain icount 1590.25 ms" in row
    assert not any(n.startswith("Boot:") for n in report.measured_notes(r))
    # The idle=poll boots failed: no goal figure, the plain one is still shown, unchecked.
    r = _disk_report(ready_poll=ReadyResult(virtual_ms=[None], wall_s=[None], http_status=[None],
                                            errors=["boot 1: hang (timed out)"]))
    assert "❌ no READY with `idle=poll`; plain icount 1590.25 ms" in report._summary_row(r)
    text = report.render_markdown([r], MACHINE, WHEN, static_notes={})
    assert "Boot problems, `idle=poll` (disk waits at real latency):" in text
    # An image without a port (like c/disk_hello) gets no HTTP row.
    r.manifest = dict(r.manifest, ports=[])
    text = report.render_markdown([r], MACHINE, WHEN, static_notes={})
    assert "HTTP status of `GET /`" not in text and "virtual time to READY, plain icount" in text
    # An initramfs image is measured once, as before.
    c = _c_report()
    assert report._ready_cell(c) == "30.5 ms ✅"


def test_static_notes_for_the_python_image() -> None:
    notes = report.STATIC_NOTES["testprojects/python/hello_http:image"]
    assert any("http.server" in n and "importtime" in n for n in notes)
    assert any("rootfs.img" in n and "zstd" in n for n in notes)


def test_reproducibility_section_renders_the_recorded_figures(tmp_path, monkeypatch) -> None:
    import remote_cache

    monkeypatch.setattr(remote_cache.tempfile, "gettempdir", lambda: str(tmp_path))
    assert remote_cache.read_figures() is None
    missing = "\n".join(report.render_markdown([], MACHINE, WHEN, static_notes={}).splitlines())
    assert "No figures: `tests/reproducibility_integration_test.py`" in missing

    remote_cache.record_figures(started="2026-11-30 01:00 UTC")
    remote_cache.record_figures(clone_a={"wall_s": 1500.2, "local_processes": 80, "written": 74, "write_errors": 0})
    remote_cache.record_figures(build_b={"wall_s": 1400.0})
    remote_cache.record_figures(artifacts={"x/image/kernel": "ab" * 32, "x/image/initrd": "cd" * 32}, different=["x/image/initrd"])
    text = report.render_markdown([], MACHINE, WHEN, static_notes={}, reproducibility=remote_cache.read_figures())
    assert "run started 2026-11-30 01:00 UTC" in text
    assert "| wall time, build A (cold: no local cache, writes the remote cache) | 1500.2 s | | |" in text
    assert "| processes run locally on clone C | — | 0 | — |" in text  # clone C did not run
    assert "1 of 2 identical." in text
    assert "| `x/image/initrd` | `cdcdcdcdcdcdcdcd…` | ❌ |" in text
    assert "| `x/image/kernel` | `abababababababab…` | ✅ |" in text

    remote_cache.record_figures(
        different=[],
        clone_c={
            "wall_s": 90.0, "remote_requests": 74, "remote_hits": 74, "run_locally": 0, "discovery": 34,
            "identical_to_a": True,
        },
        server_stopped={"build_succeeded": True, "warned": True},
    )
    text = report.render_markdown([], MACHINE, WHEN, static_notes={}, reproducibility=remote_cache.read_figures())
    assert "| processes run locally on clone C | 0 | 0 | ✅ |" in text
    assert "| remote cache hits on clone C | 74 of 74 | all | ✅ |" in text
    assert "| Pants' environment discovery on clone C (never cached, by Pants' design) | 34 processes | | |" in text
    assert "(and clone C vs A: all identical): 2 of 2 identical." in text
    assert "yes, with Pants' warning | yes, with a warning | ✅ |" in text

    # A new run starts from scratch: nothing of the previous one is reported as its own.
    remote_cache.record_figures(started="2026-12-01 01:00 UTC")
    assert set(remote_cache.read_figures()) == {"started", "updated"}


def test_only_the_reproducibility_section_is_rendered_anew() -> None:
    old = report.render_markdown([_c_report()], MACHINE, WHEN, static_notes={})
    assert "No figures:" in old
    figures = {"started": "2026-11-30 02:00 UTC", "build_b": {"wall_s": 700.0}}
    new = report.replace_reproducibility(old + "\nhand-written text after the section\n", figures)
    head = old.split("\n## Reproducibility and remote cache", 1)[0]
    assert new.startswith(head)
    assert "No figures:" not in new and "hand-written text" not in new
    assert "| wall time, build B (no cache at all) | 700.0 s | | |" in new
    assert new == report.replace_reproducibility(new, figures)  # idempotent
