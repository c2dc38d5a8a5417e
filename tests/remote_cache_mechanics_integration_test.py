"""The remote cache mechanics of reproducibility_integration_test.py on a cheap target (~2-3 min):
BuildGrid on loopback, clone A writes, clone B (empty local store) reads and runs nothing
locally, and a build still succeeds with the server stopped. The target is a small
`pex_binary` (no kernel), so this runs in the ordinary test suite."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from pants_repo import RepoCopy
from remote_cache import buildgrid, parse_counters, processes_run_locally, remote_flags

APP = "cheap/app:bin"


def _fresh(tmp_path: Path, name: str) -> Dict[str, Path]:
    """A local store and named caches of their own (empty at first, as on another machine)."""
    return {"local_store": tmp_path / name / "store", "named_caches": tmp_path / name / "named_caches"}


def _write_app(repo: RepoCopy, greeting: str) -> None:
    repo.write("cheap/app/main.py", f'print("{greeting}")\n')
    repo.write("cheap/app/BUILD", 'python_sources()\npex_binary(name="bin", entry_point="main.py")\n')


def test_remote_cache_mechanics_on_a_small_pex(tmp_path, request) -> None:
    a = RepoCopy(tmp_path / "a" / "checkout")
    b = RepoCopy(tmp_path / "b" / "other")
    for repo in (a, b):
        request.addfinalizer(repo.cleanup)
        _write_app(repo, "hello")

    with buildgrid(tmp_path / "buildgrid") as server:
        ra = a.run_subprocess(*remote_flags(server.address, read=True, write=True, **_fresh(tmp_path, "cache-a")), "package", APP)
        ra.assert_success()
        ca = parse_counters(ra.stderr)
        assert ca["remote_cache_write_successes"] > 0, ca
        assert ca["remote_cache_requests_uncached"] == ca["remote_cache_requests"], ca

        rb = b.run_subprocess(*remote_flags(server.address, read=True, write=False, **_fresh(tmp_path, "cache-b")), "package", APP)
        rb.assert_success()
        cb = parse_counters(rb.stderr)
        assert cb["remote_cache_requests"] > 0, cb
        assert cb["remote_cache_requests_cached"] == cb["remote_cache_requests"], cb
        assert cb.get("remote_cache_speculation_local_completed_first", 0) == 0, cb
        assert processes_run_locally(cb) == 0, cb
        # Cancelled speculative starts record no run time; a completed local run does.
        assert cb.get("local_process_total_time_run_ms", 0) == 0, cb
        assert (a.root / "dist/cheap.app/bin.pex").read_bytes() == (b.root / "dist/cheap.app/bin.pex").read_bytes()

    _write_app(b, "hello again")
    rc = b.run_subprocess(*remote_flags(server.address, read=True, write=True, **_fresh(tmp_path, "cache-b")), "package", APP)
    rc.assert_success()
    assert "Failed to read from remote cache" in rc.stderr, rc.stderr[-4000:]
    # The changed source was built locally (the cache answered nothing).
    assert parse_counters(rc.stderr)["local_process_total_time_run_ms"] > 0
