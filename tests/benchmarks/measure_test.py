"""Unit tests of how measure.py boots an image for each per-image setting (the launcher is faked:
no VM boots)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks import measure
from benchmarks.settings import ImageSettings, image_settings

SERVER = {"target": "a/b:image", "ports": [{"host": 8080, "guest": 8080}], "memory_mib": 64}
BATCH = {"target": "a/lua:image", "ports": [], "memory_mib": 64}


def _result(**kw: Any) -> SimpleNamespace:
    base = dict(exit_code=0, ready_line=None, ready_wall_s=None, exit_wall_s=1.5, wall_s=2.0, output="",
                stderr="", http_status=None, http_error=None, panicked=False, panic_line=None, app_exit=0,
                timed_out=False, message=None)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.fixture
def fake(monkeypatch) -> SimpleNamespace:
    """The faked launcher: `calls` gets each boot's options; `results` are returned in order
    (an exit-0 batch result once they run out)."""
    fake = SimpleNamespace(calls=[], results=[])

    def boot(bundle: str, **kwargs: Any) -> SimpleNamespace:
        fake.calls.append(dict(kwargs, bundle=bundle))
        return fake.results.pop(0) if fake.results else _result()

    monkeypatch.setattr(measure.launcher, "boot", boot)
    monkeypatch.setattr(measure.launcher, "free_port", lambda: 40000 + len(fake.calls))
    monkeypatch.setattr(measure, "log", lambda msg: None)
    return fake


def _bench(tmp_path: Path, quick: bool = False) -> measure.Bench:
    repo = SimpleNamespace(root=tmp_path / "repo")
    return measure.Bench(repo, SimpleNamespace(quick=quick))  # type: ignore[arg-type]


def test_server_boots_to_its_ready_line_with_the_http_check(tmp_path, fake) -> None:
    bench = _bench(tmp_path)
    settings = image_settings("a/b:image", {"ready": r"ready at (\d+)", "http_path": "/health"})
    bench.boot(tmp_path / "bundle", SERVER, settings, icount=True)
    (c,) = fake.calls
    assert c["ready"] == r"ready at (\d+)" and c["stop_after_ready"] is True
    assert c["http_get"] == "8080/health" and c["ports"] == [(40000, 8080)] and c["icount"] is True
    assert "volumes_dir" not in c


def test_no_http_check_for_http_path_none(tmp_path, fake) -> None:
    _bench(tmp_path).boot(tmp_path / "bundle", SERVER, image_settings("a/b:image", {"http_path": "none"}))
    assert "http_get" not in fake.calls[0] and fake.calls[0]["ports"]


def test_batch_app_boots_until_exit_without_ready_or_ports(tmp_path, fake) -> None:
    _bench(tmp_path).boot(tmp_path / "bundle", BATCH, ImageSettings(until="exit"))
    (c,) = fake.calls
    assert "ready" not in c and "stop_after_ready" not in c and "http_get" not in c
    assert c["no_ports"] is True


def test_volumes_are_fresh_and_in_the_runs_temp_dir(tmp_path, fake) -> None:
    manifest = dict(SERVER, volumes=[{"path": "/var/lib/app", "size_mib": 16, "serial": "vol0"}])
    _bench(tmp_path).boot(tmp_path / "bundle", manifest, ImageSettings())
    assert fake.calls[0]["wipe_volumes"] is True
    assert fake.calls[0]["volumes_dir"] == str(tmp_path / "volumes" / "a_b_image")


def test_measure_ready_until_exit_reads_inits_clock(tmp_path, fake) -> None:
    bench = _bench(tmp_path)
    results = fake.results
    results += [
        _result(output="hi\nUNIKERNEL_EXIT_MONOTONIC_MS=41.5\nUNIKERNEL_EXIT=0\n"),
        _result(output="hi\nUNIKERNEL_EXIT=0\n"),
    ]
    rr = bench.measure_ready(tmp_path / "bundle", BATCH, ImageSettings(until="exit"))
    assert rr.until_exit and rr.virtual_ms == [41.5, None] and rr.wall_s == [1.5, 1.5]
    assert rr.reached == [True, True] and rr.errors == []
    # A batch app that fails is an error, not "reached".
    results.append(_result(app_exit=2, exit_code=2, output="boom\nUNIKERNEL_EXIT=2\n"))
    rr = _bench(tmp_path, quick=True).measure_ready(tmp_path / "bundle", BATCH, ImageSettings(until="exit"))
    assert rr.reached == [False] and "status 2" in rr.errors[0]


def test_measure_ready_pattern_without_clock_is_reached(tmp_path, fake) -> None:
    results = fake.results
    results.append(_result(ready_line="TCP server running at tcp://10.0.2.15:9092", ready_wall_s=3.0))
    settings = image_settings("a/b:image", {"ready": "TCP server running", "http_path": "none"})
    rr = _bench(tmp_path, quick=True).measure_ready(tmp_path / "bundle", SERVER, settings)
    assert rr.virtual_ms == [None] and rr.reached == [True] and rr.reached_without_clock
    assert rr.wall_s == [3.0] and rr.errors == []


def test_a_bad_benchmark_field_is_that_images_error_only(tmp_path, fake) -> None:
    bench = _bench(tmp_path)
    bench.entries["a/b:image"] = {"address": "a/b:image", "benchmark": {"until": "forever"}}
    report = bench.measure("a/b:image")
    assert report.error is not None and report.error.startswith("a/b:image: `until`")
    assert fake.calls == []  # nothing booted
