"""Unit tests of the markdown report: no Pants runs, no VMs."""

from __future__ import annotations

from benchmarks import cells as table, render, render_image
from benchmarks.notes import STATIC_NOTES
from benchmarks.fixtures import MACHINE, WHEN, c_report, disk_report
from benchmarks.results import ReadyResult

def test_render_markdown_table_and_goals() -> None:
    text = render.render_markdown([c_report()], MACHINE, WHEN, static_notes={})
    assert text.startswith("# Benchmarks\n")
    assert "Generated 2026-11-27 12:34 UTC" in text
    assert "Test CPU" in text and "QEMU emulator version 7.2.0" in text and "KVM: not usable" in text
    row = next(line for line in text.split("## Results", 1)[1].splitlines() if line.startswith("| `testprojects/c/hello_http:image`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == [
        "`testprojects/c/hello_http:image`", "c", "1.12 MB ✅", "30.5 ms ✅", "14 MiB ✅", "9.5 s ❌", "1.2 s ✅", "no ✅",
        "no ✅", "total ≤ 1.5 MB, ready ≤ 40 ms, floor ≤ 16 MiB, rebuild ≤ 3 s",
    ]
    assert "| `testprojects/c/hello_http:image` | ≤ 1.5 MB | ≤ 40 ms | ≤ 16 MiB | ≤ 3 s | no | no | — |" in text
    assert "| runtime layer rebuilt (warm pantsd) | no | no | ✅ |" in text
    assert "Disk roots" in text  # the method explains the idle=poll measurement
    assert "plain icount" not in row
    assert "### What limits it" in text
    assert "at 13 MiB: initramfs unpacking failed" in text
    assert "(`memory_needed_mib`) is 13 MiB, 1 MiB too low; the image asks for 64 MiB." in text
    assert "kernel 98%" in text
    assert "Partial run" not in text


def test_render_markdown_failures_and_nondeterminism() -> None:
    r = c_report(
        sizes={"kernel": 1_600_000, "initrd": 60_000, "total": 1_660_000},
        ready=ReadyResult(virtual_ms=[273.4, 273.5], wall_s=[2.0, 2.0], http_status=[200, 200]),
    )
    r.rebuilds[1].completed.append("Building the Linux 6.1.176 kernel of 3rdparty/kernel:linux (several minutes, cached)")
    text = render.render_markdown([r], MACHINE, WHEN, flags=["--quick"], static_notes={r.address: ["A hand note."]})
    row = next(line for line in text.split("## Results", 1)[1].splitlines() if line.startswith("| `testprojects/c/hello_http:image`"))
    assert "1.66 MB ❌" in row
    assert "273.5 ms ❌ (not deterministic: boots differ by 0.1 ms)" in row
    assert "| virtual time to READY | 273.4 ms / 273.5 ms (**not deterministic**, spread 0.1 ms) |" in text
    assert "Determinism: the boots reached READY 0.1 ms of guest time apart." in text
    assert row.rstrip().endswith("| yes ❌ | no ✅ | total ≤ 1.5 MB, ready ≤ 40 ms, floor ≤ 16 MiB, rebuild ≤ 3 s |")
    assert "**Partial run** (`--quick`)" in text
    assert "- A hand note." in text
    assert "including the kernel build" in text


def test_render_markdown_is_sorted_and_deterministic() -> None:
    b = c_report("testprojects/c/b:image")
    a = c_report("testprojects/c/a:image", error="`pants package` failed:\nboom", sizes={}, ready=None,
                  floor=None, rebuilds=[])
    one = render.render_markdown([b, a], MACHINE, WHEN, skipped=[("testprojects/bad/x:image", "under testprojects/bad/")])
    two = render.render_markdown([a, b], MACHINE, WHEN, skipped=[("testprojects/bad/x:image", "under testprojects/bad/")])
    assert one == two
    assert one.index("## `testprojects/c/a:image`") < one.index("## `testprojects/c/b:image`")
    assert "| `testprojects/c/a:image` | c | ❌ `pants package` failed: | — |" in one
    assert "Not measured: `testprojects/bad/x:image` (under testprojects/bad/)." in one


def test_render_markdown_unmeasured_parts() -> None:
    r = c_report(ready=None, floor=None, rebuilds=[])
    text = render.render_markdown([r], MACHINE, WHEN, static_notes={})
    row = next(line for line in text.split("## Results", 1)[1].splitlines() if line.startswith("| `testprojects/c/hello_http:image`"))
    assert [c.strip() for c in row.strip("|").split("|")][3:] == ["—", "—", "—", "—", "—", "—", "total ≤ 1.5 MB, ready ≤ 40 ms, floor ≤ 16 MiB, rebuild ≤ 3 s"]



def test_rebuild_note_when_noop_is_slower() -> None:
    r = c_report()
    r.rebuilds[0].noop_wall_s = 30.0
    r.rebuilds[0].wall_s = 28.0
    notes = render_image.measured_notes(r, pants_startup_s=26.0)
    fresh = next(n for n in notes if n.startswith("Rebuild in a fresh Pants process"))
    assert "lost in Pants's overhead" in fresh and "alone takes 26.0 s" in fresh
    pantsd = next(n for n in notes if n.startswith("Rebuild with a warm pantsd"))
    assert "33% is Pants's own overhead" in pantsd and "started pantsd took 20.0 s" in pantsd



def test_rebuild_counts_the_processes_logged_at_debug_level() -> None:
    r = c_report()
    r.rebuilds[1].processes_run = 3  # the compile (info) and two at debug level
    notes = render_image.measured_notes(r, pants_startup_s=None)
    pantsd = next(n for n in notes if n.startswith("Rebuild with a warm pantsd"))
    assert "; 3 process(es) ran." in pantsd
    fresh = next(n for n in notes if n.startswith("Rebuild in a fresh Pants process"))
    assert "; 1 process(es) ran." in fresh  # no counters: the info lines
    text = render.render_markdown([r], MACHINE, WHEN, static_notes={})
    assert (
        "Processes that ran in the rebuild (pantsd), as Pants logs them at info level (3 in all by "
        "Pants' `--stats-log`; the other 2 log at debug level, e.g. the SBOM document):" in text
    )
    assert "Processes that ran in the rebuild (fresh process), as Pants logs them at info level:" in text


def test_render_disk_root_two_ready_figures() -> None:
    r = disk_report()
    assert r.disk_root and r.goal_ready is r.ready_poll
    c = c_report()
    assert c.goal_ready is c.ready
    text = render.render_markdown([r], MACHINE, WHEN, static_notes={})
    row = next(line for line in text.split("## Results", 1)[1].splitlines() if line.startswith("| `testprojects/python/hello_http:image`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # The goal (250 ms) is checked against the idle=poll figure only; the plain one has no check mark.
    assert cells[3] == "339.4 ms ❌ with `idle=poll`; plain icount 1590.25 ms"
    assert cells[-3:-1] == ["no ✅", "yes ❌"]  # kernel, runtime layer
    assert ("| virtual time to READY, plain icount | 1590.25 ms / 1590.25 ms (deterministic) "
            "| not checked (see the note on disk roots) |  |") in text
    assert ("| virtual time to READY, `idle=poll` (disk waits at real latency) | 339.1 ms / 339.4 ms "
            "(spread 0.3 ms; the slower counts) | ≤ 250 ms | ❌ |") in text
    assert "| HTTP status of `GET /`, `idle=poll` (disk waits at real latency) | 200 / 200 | 200 | ✅ |" in text
    assert "| runtime layer rebuilt (fresh Pants process, no pantsd) | yes | no | ❌ |" in text
    assert "| runtime layer rebuilt (warm pantsd) | no | no | ✅ |" in text
    notes = render_image.measured_notes(r)
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
    assert "plain icount 16654.728 ms (not deterministic: boots differ by 15963.159 ms)" in table._summary_row(r)
    det = next(n for n in render_image.measured_notes(r) if n.startswith("Determinism:"))
    assert "for a disk root" in det and "not the one checked" in det
    assert next(n for n in render_image.measured_notes(c_report(ready=ReadyResult(virtual_ms=[1.0, 2.0])))
                if n.startswith("Determinism:")).endswith("network timing.")
    assert any("including the runtime layer" in n for n in notes)


def test_render_disk_root_goal_met_and_missing_poll() -> None:
    r = disk_report(ready_poll=ReadyResult(virtual_ms=[240.0, 240.2], wall_s=[8.0, 8.0], http_status=[200, 200]))
    row = table._summary_row(r)
    assert "240.2 ms ✅ with `idle=poll`; plain icount 1590.25 ms" in row
    assert not any(n.startswith("Boot:") for n in render_image.measured_notes(r))
    # The idle=poll boots failed: no goal figure, the plain one is still shown, unchecked.
    r = disk_report(ready_poll=ReadyResult(virtual_ms=[None], wall_s=[None], http_status=[None],
                                            errors=["boot 1: hang (timed out)"]))
    assert "❌ no READY with `idle=poll`; plain icount 1590.25 ms" in table._summary_row(r)
    text = render.render_markdown([r], MACHINE, WHEN, static_notes={})
    assert "Boot problems, `idle=poll` (disk waits at real latency):" in text
    # An image without a port (like c/disk_hello) gets no HTTP row.
    r.manifest = dict(r.manifest, ports=[])
    text = render.render_markdown([r], MACHINE, WHEN, static_notes={})
    assert "HTTP status of `GET /`" not in text and "virtual time to READY, plain icount" in text
    # An initramfs image is measured once, as before.
    c = c_report()
    assert table._ready_cell(c) == "30.5 ms ✅"


def test_static_notes_for_the_python_image() -> None:
    notes = STATIC_NOTES["testprojects/python/hello_http:image"]
    assert any("http.server" in n and "importtime" in n for n in notes)
    assert any("rootfs.img" in n and "zstd" in n for n in notes)




def _row(text: str, address: str):
    row = next(line for line in text.split("## Results", 1)[1].splitlines() if line.startswith(f"| `{address}`"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_an_image_without_goals_is_shown_without_checks() -> None:
    r = c_report("testprojects/c/lua:image")
    text = render.render_markdown([r], MACHINE, WHEN, static_notes={})
    cells_ = _row(text, "testprojects/c/lua:image")
    assert cells_ == ["`testprojects/c/lua:image`", "c", "1.12 MB", "30.5 ms", "14 MiB", "9.5 s", "1.2 s", "no", "no", "—"]
    assert "✅" not in "".join(cells_) and "❌" not in "".join(cells_)
    section = text.split("## `testprojects/c/lua:image`", 1)[1]
    assert "| total size | 1,120,000 bytes (1.12 MB) | — | — |" in section
    assert "| kernel rebuilt (warm pantsd) | no | — |  |" in section
    assert not any(n.startswith("Boot:") for n in render_image.measured_notes(r))
    # The goals table lists images, not runtimes; this one is not in it.
    goals = text.split("### Goals", 1)[1].split("## Results", 1)[0]
    assert "| `testprojects/c/hello_http:image` | ≤ 1.5 MB | ≤ 40 ms | ≤ 16 MiB | ≤ 3 s | no | no | — |" in goals
    assert "| `testprojects/java/h2:image` | ≤ 30 MB | — | — | — | no | no | none |" in goals
    assert "lua" not in goals


def test_h2_row_checks_size_and_extra_packages() -> None:
    r = c_report("testprojects/java/h2:image", runtime="java",
                 sizes={"kernel": 1_500_000, "initrd": 30_000, "rootfs.img": 27_000_000, "total": 28_530_000})
    r.ready = ReadyResult(virtual_ms=[None, None], wall_s=[6.0, 6.5], http_status=[None, None], reached=[True, True])
    r.manifest = dict(r.manifest, app={"extra_debian_packages": ""})
    cells_ = _row(render.render_markdown([r], MACHINE, WHEN, static_notes={}), "testprojects/java/h2:image")
    assert cells_[2] == "28.53 MB ✅"
    assert cells_[3] == "— (READY reached, no virtual clock; wall 6.5 s on this machine)"
    assert cells_[4] == "14 MiB"  # no floor goal for this image
    assert cells_[-1] == "total ≤ 30 MB, no extra Debian packages (extra packages: 0 ✅)"
    r.manifest = dict(r.manifest, app={"extra_debian_packages": "libx11-6"})
    text = render.render_markdown([r], MACHINE, WHEN, static_notes={})
    assert _row(text, "testprojects/java/h2:image")[-1].endswith("(extra packages: 1 ❌)")
    assert "| extra Debian packages | 1 (libx11-6) | none | ❌ |" in text
    assert ("| virtual time to READY | — (reached; the ready pattern captures no clock) | — | — |") in text
    r.manifest = dict(r.manifest, app={})
    assert "(extra packages: not recorded)" in table._summary_row(r)


def test_until_exit_figures() -> None:
    r = c_report("testprojects/c/lua:image", floor=None, rebuilds=[])
    r.ready = ReadyResult(virtual_ms=[41.25, 41.25], wall_s=[1.0, 1.1], http_status=[None, None],
                          reached=[True, True], until_exit=True)
    text = render.render_markdown([r], MACHINE, WHEN, static_notes={})
    assert _row(text, "testprojects/c/lua:image")[3] == "41.25 ms to exit"
    assert "| virtual time to exit | 41.25 ms / 41.25 ms (deterministic) | — | — |" in text
    assert "| wall time to exit under icount (this machine) | 1.0 s / 1.1 s | | |" in text
    assert "HTTP status" not in text
    # Without init's clock line: reached, no virtual figure, said so.
    r.ready = ReadyResult(virtual_ms=[None], wall_s=[1.0], http_status=[None], reached=[True], until_exit=True)
    assert table._ready_cell(r) == "— (exit reached, no virtual clock; wall 1.0 s on this machine)"
    assert "init printed no clock at exit" in render.render_markdown([r], MACHINE, WHEN, static_notes={})
    # A failed exit is a failure, not "reached".
    r.ready = ReadyResult(virtual_ms=[None], wall_s=[None], http_status=[None], reached=[False], until_exit=True,
                          errors=["boot 1: the app exited with status 1"])
    assert table._ready_cell(r) == "❌ no exit"


def test_header_says_how_to_measure_any_image() -> None:
    text = render.render_markdown([], MACHINE, WHEN, static_notes={})
    how = text.split(render.HOW_TO_HEADING, 1)[1].split("## Machine", 1)[0]
    for words in ("testprojects/c/lua:image", "`benchmark` field", "--ready-pattern", "--until-exit",
                  "--http-path", "--edit", "Until exit", "Memory floor", "Goals", "settings.py"):
        assert words in how, words
    assert text.index(render.HOW_TO_HEADING) < text.index("## Machine")


def test_partial_run_banner_only_for_skipping_flags() -> None:
    text = render.render_markdown([c_report()], MACHINE, WHEN, static_notes={},
                                  flags=["testprojects/c/hello_http:image", "--until-exit"])
    assert "by `./pants run tests/benchmarks:report -- testprojects/c/hello_http:image --until-exit`" in text
    assert "Partial run" not in text
    text = render.render_markdown([c_report()], MACHINE, WHEN, static_notes={}, flags=["x:image", "--skip-floor"])
    assert "**Partial run** (`--skip-floor`)" in text
