"""Unit tests of the bootable disks benchmark's pure parts (no Pants, no VM)."""

from __future__ import annotations

import pytest

from benchmarks import disk_formats as df

MANIFEST = {
    "files": {
        "kernel": {"size": 2_000_000}, "initrd": {"size": 30_000}, "cmdline": {"size": 89},
        "rootfs.img": {"size": 36_864}, "disk.raw": {"size": 5 * 1024 * 1024}, "disk.qcow2": {"size": 2_400_000},
        "disk.tar.gz": {"size": 2_300_000},
    },
    "formats": {
        "gce": {"file": "disk.tar.gz", "order": 3},
        "bundle": {"files": ["kernel", "initrd", "cmdline", "rootfs.img"], "order": 0},
        "raw": {"file": "disk.raw", "order": 1},
        "qcow2": {"file": "disk.qcow2", "order": 2},
    },
}


def test_format_files_in_manifest_order_with_the_bundle_total() -> None:
    rows = df.format_files(MANIFEST)
    assert [r["format"] for r in rows] == ["bundle", "raw", "qcow2", "gce"]
    assert rows[0] == {"format": "bundle", "file": "kernel + initrd + cmdline + rootfs.img", "size": 2_066_953}
    assert rows[1] == {"format": "raw", "file": "disk.raw", "size": 5_242_880}
    assert df.format_files({"files": {}, "formats": {"vhd": {"order": 1}}}) == [
        {"format": "vhd", "file": "disk.vhd", "size": None}]


def test_boot_plan_prefers_the_raw_disk() -> None:
    assert df.boot_plan(MANIFEST) == [("bundle", "bundle", None), ("bios", "raw", "bios"), ("uefi", "raw", "uefi")]
    py = {"formats": {"bundle": {"order": 0}, "qcow2": {"order": 1}}}
    assert df.boot_plan(py)[1:] == [("bios", "qcow2", "bios"), ("uefi", "qcow2", "uefi")]
    assert df.boot_plan({"formats": {"bundle": {"order": 0}}}) == [("bundle", "bundle", None)]


def test_parse_ready() -> None:
    assert df.parse_ready("READY monotonic_ms=32 tsc_ms=412.345") == (32.0, 412.345)
    assert df.parse_ready("hello_http: READY port=8080 speedups=x monotonic_ms=273.416") == (273.416, None)
    assert df.parse_ready(None) == (None, None)
    # The report's default ready regex still matches the C app's new READY line.
    import re

    from benchmarks.settings import DEFAULT_READY

    assert re.search(DEFAULT_READY, "READY monotonic_ms=32 tsc_ms=412.345").group(1) == "32"


def test_rewrite_formats() -> None:
    build = 'unikernel_image(\n    name="image",\n    formats=["bundle", "raw", "qcow2"],\n)\n'
    assert df.rewrite_formats(build, ["bundle"]) == 'unikernel_image(\n    name="image",\n    formats=["bundle"],\n)\n'
    with pytest.raises(ValueError):
        df.rewrite_formats('unikernel_image(name="image")\n', ["bundle"])


def test_edit_c_source_reaches_main() -> None:
    src = "#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n    return 0;\n}\n"
    out = df.edit_c_source(src, "abc123")
    assert 'int main(int argc, char **argv)\n{\n    printf("benchmark edit abc123\\n");\n    return 0;' in out
    with pytest.raises(ValueError):
        df.edit_c_source("void f(void) {}\n", "x")


def test_summarize_boots() -> None:
    same = df.summarize_boots([{"monotonic_ms": 32.0, "tsc_ms": 400.1, "wall_s": 1.0},
                               {"monotonic_ms": 32.0, "tsc_ms": 400.1, "wall_s": 1.2}])
    assert same["monotonic_ms"] == 32.0 and same["deterministic"] and same["tsc_deterministic"]
    varied = df.summarize_boots([{"monotonic_ms": 31.0, "wall_s": 1.0}, {"monotonic_ms": 33.0, "wall_s": 1.0}])
    assert varied["monotonic_ms"] == 33.0 and not varied["deterministic"] and "tsc_ms" not in varied
    assert varied["monotonic_all"] == [31.0, 33.0]
    failed = df.summarize_boots([{"error": "timed out", "wall_s": 240.0}])
    assert failed["reached"] == 0 and failed["error"] == "timed out" and "monotonic_ms" not in failed


FIGURES = {
    "measured": "2026-12-02 08:30 UTC", "duration_s": 1200, "boots_per_path": 2,
    "machine": {"nproc": 2, "cpu": "Test CPU", "qemu": "QEMU emulator version 7.2.22", "kvm": "not usable", "pants": "2.17.1"},
    "load_start": "4.0 3.0 3.0", "load_before_rebuild": "3.0 3.0 3.0", "load_end": "2.0 2.0 2.0",
    "images": {
        "testprojects/c/disk_hello:image": {
            "files": df.format_files(MANIFEST),
            "boots": {
                "uefi": {"format": "raw", "firmware": "uefi", "icount": False, "icount_error": "timed out",
                         "icount_timeout_s": 240.0, "wall_s": [6.5], "boots": 1, "reached": 1},
                "bundle": {"format": "bundle", "icount": True, "boots": 2, "reached": 2, "wall_s": [1.0, 1.1],
                           "monotonic_ms": 33.0, "monotonic_all": [31.0, 33.0], "deterministic": False,
                           "tsc_ms": 140.0, "tsc_all": [120.5, 140.0], "tsc_deterministic": False},
            },
            "boots_poll": {
                "bios": {"format": "raw", "firmware": "bios", "icount": True, "boots": 2, "reached": 2,
                         "wall_s": [2.0, 2.1], "monotonic_ms": 33.0, "monotonic_all": [33.0, 33.0], "deterministic": True,
                         "tsc_ms": 900.0, "tsc_all": [900.0, 900.0], "tsc_deterministic": True},
                "bundle": {"format": "bundle", "icount": True, "boots": 2, "reached": 2, "wall_s": [1.0, 1.0],
                           "monotonic_ms": 30.0, "monotonic_all": [30.0, 30.0], "deterministic": True,
                           "tsc_ms": 118.0, "tsc_all": [118.0, 118.0], "tsc_deterministic": True},
            },
            "rebuild": {
                "edited": "testprojects/c/disk_hello/main.c", "extra_s": 1.5,
                "variants": [
                    {"label": "formats", "formats": ["bundle", "raw", "qcow2", "gce"], "noop_s": 0.9,
                     "runs": [{"wall_s": 5.0, "completed": ["a", "b", "c"]}, {"wall_s": 5.2, "completed": ["a", "b", "c"]}]},
                    {"label": "bundle", "formats": ["bundle"], "noop_s": 0.8,
                     "runs": [{"wall_s": 3.6, "completed": ["a"]}, {"wall_s": 3.6, "completed": ["a"]}]},
                ],
            },
        },
        "testprojects/python/hello_http:image": {
            "files": [{"format": "bundle", "file": "kernel + initrd", "size": 21_000_000},
                      {"format": "qcow2", "file": "disk.qcow2", "size": 22_000_000}],
            "boots": {"bundle": {"format": "bundle", "icount": True, "boots": 1, "reached": 1, "wall_s": [9.0],
                                 "monotonic_ms": 340.25, "deterministic": True}},
        },
    },
}


def test_render_sizes_against_the_goal() -> None:
    text = "\n".join(df.render(FIGURES))
    assert "Measured 2026-12-02 08:30 UTC by `./pants run tests/benchmarks:disk-formats` in 20 min" in text
    assert "2 CPUs (Test CPU)" in text
    assert "| `c/disk_hello` | bundle | `kernel + initrd + cmdline + rootfs.img` | 2,066,953 bytes (2.07 MB) |  |  |" in text
    assert "| `c/disk_hello` | raw | `disk.raw` | 5,242,880 bytes (5.24 MB, 2.54× the bundle) | ≤ 2.5 MB | ❌ |" in text
    assert "| `c/disk_hello` | qcow2 | `disk.qcow2` | 2,400,000 bytes (2.40 MB, 1.16× the bundle) | ≤ 2.5 MB | ✅ |" in text
    # No goal for the Python image's disk.
    assert "| `python/hello_http` | qcow2 | `disk.qcow2` | 22,000,000 bytes (22.00 MB, 1.05× the bundle) |  |  |" in text
    assert f"]({df.REPRO_ANCHOR})" in text


def test_render_boots_in_order_with_tsc_and_fallback() -> None:
    text = "\n".join(df.render(FIGURES))
    rows = [l for l in text.splitlines() if l.startswith("| `c/disk_hello` | bundle (") or l.startswith("| `c/disk_hello` | disk,")]
    # idle=poll first (the figures), then as built; bundle, BIOS, UEFI in each.
    assert [r.split(" | ")[1].split(" (")[0].split(",")[0] for r in rows] == ["bundle", "disk", "bundle", "disk"]
    assert rows[0] == ("| `c/disk_hello` | bundle (`-kernel`, SeaBIOS loads it) | + `idle=poll` | 30.0 ms (deterministic) "
                       "| 118 ms (deterministic) | 88.0 ms | 1.0 s / 1.0 s |")
    assert "| as built (plain icount) | 31.0 ms / 33.0 ms (**varies**) | 120 ms / 140 ms (**varies**) | 107 ms |" in rows[2]
    assert "| 33.0 ms (deterministic) | 900 ms (deterministic) | 867 ms |" in rows[1]
    assert df._values({"tsc_all": [951.213, 951.111], "tsc_ms": 951.213}, "tsc_ms", False) == "951 ms (spread 0.10 ms)"
    assert "— (under icount: timed out) | — | — | without icount: 6.5 s (reached READY) |" in rows[3]
    assert ("| `python/hello_http` | bundle (`-kernel`, SeaBIOS loads it) | as built (plain icount) | 340 ms "
            "| — (Python: kernel clock only) |") in text


def test_add_kernel_args() -> None:
    build = 'c_program(name="app")\n\nunikernel_image(\n    name="image",\n)\n'
    assert df.add_kernel_args(build, ["idle=poll"]) == (
        'c_program(name="app")\n\nunikernel_image(\n    kernel_args=["idle=poll"],\n    name="image",\n)\n')
    with pytest.raises(ValueError):
        df.add_kernel_args('unikernel_image(\n    kernel_args=["x"],\n)\n', ["idle=poll"])


def test_render_rebuild() -> None:
    text = "\n".join(df.render(FIGURES))
    assert "| bundle, raw, qcow2, gce | 0.9 s | 5.0 s / 5.2 s | 5.1 s |" in text
    assert "| bundle | 0.8 s | 3.6 s / 3.6 s | 3.6 s |" in text
    assert "| all formats over the bundle alone (mean) | +1.5 s | ≤ 2 s | ✅ |" in text


def test_section_is_inserted_before_reproducibility_and_replaced_in_place() -> None:
    md = "# Report\n\n## CI wall time (`.ci/run`)\n\nci\n\n## Reproducibility and remote cache (all)\n\nfigures\n"
    once = df.replace_section(md, FIGURES)
    assert once.index("## CI wall time") < once.index(df.HEADING) < once.index("## Reproducibility")
    again = df.replace_section(once, None)
    assert again.count(df.HEADING) == 1 and "Not measured on this machine yet" in again
    assert again.endswith("figures\n") and "ci\n" in again
    # The subsections (###) stay inside the section when it is replaced.
    assert df.replace_section(once, FIGURES) == once
