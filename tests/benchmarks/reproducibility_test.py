"""Unit tests of the reproducibility section of the report."""

from __future__ import annotations

from benchmarks import render, reproducibility
from benchmarks.fixtures import MACHINE, WHEN, c_report

def test_reproducibility_section_renders_the_recorded_figures(tmp_path, monkeypatch) -> None:
    import figures
    import remote_cache

    monkeypatch.setattr(figures.tempfile, "gettempdir", lambda: str(tmp_path))
    assert remote_cache.read_figures() is None
    missing = "\n".join(render.render_markdown([], MACHINE, WHEN, static_notes={}).splitlines())
    assert "No figures: `tests/reproducibility_integration_test.py`" in missing

    remote_cache.record_figures(started="2026-11-30 01:00 UTC")
    remote_cache.record_figures(clone_a={"wall_s": 40.2, "local_processes": 30, "local_hits": 74})
    remote_cache.record_figures(
        build_b={"wall_s": 1400.0, "local_processes": 108, "written": 74, "write_errors": 0, "host_toolchain_hidden": True}
    )
    remote_cache.record_figures(artifacts={"x/image/kernel": "ab" * 32, "x/image/initrd": "cd" * 32}, different=["x/image/initrd"])
    text = render.render_markdown([], MACHINE, WHEN, static_notes={}, reproducibility=remote_cache.read_figures())
    assert "run started 2026-11-30 01:00 UTC" in text
    assert "| wall time, build A (the user's local cache) | 40.2 s (74 hits, 30 processes run) | | |" in text
    assert "| wall time, build B (no local cache, writes the remote cache, host toolchain hidden) | 1400.0 s | | |" in text
    assert "| processes build B ran and wrote | 108 ran, 74 written, 0 write errors | | |" in text
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
        clone_d={"remote_requests": 75, "remote_hits": 70, "pex_builds_run": 4, "pex_builds_total": 5, "identical_to_a": True},
    )
    text = render.render_markdown([], MACHINE, WHEN, static_notes={}, reproducibility=remote_cache.read_figures())
    assert "| processes run locally on clone C | 0 | 0 | ✅ |" in text
    assert "| remote cache hits on clone C | 74 of 74 | all | ✅ |" in text
    assert "| Pants' environment discovery on clone C (never cached, by Pants' design) | 34 processes | | |" in text
    assert "(and clone C vs A: all identical): 2 of 2 identical." in text
    assert "yes, with Pants' warning | yes, with a warning | ✅ |" in text
    assert ("| remote cache hits on clone C' (another user: other HOME, no pyenv, Pythons in another PATH order) | "
            "70 of 75 (4 PEX builds started; the build has 5, each 1-2 processes) | all but Pants' own PEX builds | ✅ |") in text

    # A new run starts from scratch: nothing of the previous one is reported as its own.
    remote_cache.record_figures(started="2026-12-01 01:00 UTC")
    assert set(remote_cache.read_figures()) == {"started", "updated"}


def test_only_the_reproducibility_section_is_rendered_anew() -> None:
    old = render.render_markdown([c_report()], MACHINE, WHEN, static_notes={})
    assert "No figures:" in old
    figures = {"started": "2026-11-30 02:00 UTC", "build_b": {"wall_s": 700.0}}
    new = reproducibility.replace_reproducibility(old + "\nhand-written text after the section\n", figures)
    head = old.split("\n## Reproducibility and remote cache", 1)[0]
    assert new.startswith(head)
    assert "No figures:" not in new and "hand-written text" not in new
    assert "| wall time, build B (no local cache, writes the remote cache) | 700.0 s | | |" in new
    assert new == reproducibility.replace_reproducibility(new, figures)  # idempotent
