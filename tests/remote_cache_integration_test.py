"""A real remote cache: BuildGrid on loopback, two clones with empty local stores.

1. Clone A (fresh local store and named caches) packages every testprojects image with
   `--remote-cache-write`: every process runs (two kernels, the zig libc cache, the runtime
   layers) and its result goes to BuildGrid.
2. Clone B, at another path with another fresh local store and named caches, packages them with
   `--remote-cache-read` only. Pants' own counters (`--stats-log`) must show that **no process
   ran locally** (every local start was cancelled by a remote cache hit; see
   `remote_cache.processes_run_locally`), no cache miss, and the bundles are byte-identical to A's.
3. With the server stopped, clone B changes one C source line and packages the C image again
   with the remote cache still configured: it succeeds, with Pants' "Failed to read from remote
   cache" warning, from its local cache plus one local compile.

Expected duration on 2 cores: ~30-45 min (clone A is a cold build of everything: two kernels
at ~7-10 min each, the zig libc cache ~2 min, Python and Java layers); clone B ~1-3 min;
step 3 ~1 min (up to ~10 min more if Pants refetches rather than reuses clone B's
validated-but-not-fetched kernel entry with the server down: not checked). Clone B still downloads the locked .deb files again (a download is not a
process; its digest is checked), so it needs the Debian archive like any build.
"""

from __future__ import annotations

import hashlib
import time
from typing import Dict

from pants_repo import RepoCopy
from remote_cache import buildgrid, parse_counters, processes_run_locally

BUNDLES = {
    "testprojects/c/hello_http:image": "testprojects.c.hello_http/image",
    "testprojects/c/disk_hello:image": "testprojects.c.disk_hello/image",
    "testprojects/python/hello_http:image": "testprojects.python.hello_http/image",
    "testprojects/java/hello_http:image": "testprojects.java.hello_http/image",
}


def _digests(repo: RepoCopy) -> Dict[str, str]:
    return {
        f"{d}/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
        for d in BUNDLES.values()
        for p in sorted(repo.bundle(d).iterdir())
    }


def test_clone_b_runs_nothing_locally_with_a_remote_cache(tmp_path) -> None:
    a = RepoCopy(tmp_path / "a" / "checkout")
    b = RepoCopy(tmp_path / "b" / "somewhere" / "else")

    def flags(name: str, address: str, write: bool):
        return (
            f"--local-store-dir={tmp_path / name / 'store'}",
            f"--named-caches-dir={tmp_path / name / 'named_caches'}",
            f"--remote-store-address={address}",
            "--remote-cache-read",
            "--remote-cache-write" if write else "--no-remote-cache-write",
            # A hit once the outputs are known to exist remotely (fetched when needed): else a
            # large output's download races the local speculative run of the same process.
            "--cache-content-behavior=validate",
            "--remote-cache-rpc-timeout-millis=30000",
            "--remote-store-rpc-timeout-millis=120000",
            "--stats-log",
        )

    with buildgrid(tmp_path / "buildgrid") as server:
        start = time.monotonic()
        ra = a.run_subprocess(*flags("cache-a", server.address, True), "package", *BUNDLES)
        wall_a = time.monotonic() - start
        ra.assert_success()
        ca = parse_counters(ra.stderr)
        assert ca.get("remote_cache_write_successes", 0) > 0, ca
        assert ca.get("remote_cache_write_errors", 0) == 0, ca

        start = time.monotonic()
        rb = b.run_subprocess(*flags("cache-b", server.address, False), "package", *BUNDLES)
        wall_b = time.monotonic() - start
        rb.assert_success()
        cb = parse_counters(rb.stderr)

    summary = (
        f"clone A: {wall_a:.0f} s, {ca.get('local_execution_requests')} local processes, "
        f"{ca.get('remote_cache_write_successes')} written; clone B: {wall_b:.0f} s, "
        f"{cb.get('remote_cache_requests_cached')}/{cb.get('remote_cache_requests')} remote hits, "
        f"{processes_run_locally(cb)} run locally; counters B: {cb}"
    )
    print(summary)
    assert cb.get("remote_cache_requests", 0) > 0, summary
    assert cb.get("remote_cache_requests_uncached", 0) == 0, summary
    assert cb.get("remote_cache_read_errors", 0) == 0, summary
    assert cb.get("remote_cache_speculation_local_completed_first", 0) == 0, summary
    assert processes_run_locally(cb) == 0, summary
    # Cancelled speculative starts record no run time; a completed local run does.
    assert cb.get("local_process_total_time_run_ms", 0) == 0, summary
    assert _digests(a) == _digests(b)

    # 3. Server stopped: a small source change still builds, with a warning.
    main_c = b.root / "testprojects/c/hello_http/main.c"
    main_c.write_text(main_c.read_text() + "\n/* a small change */\n")
    rc = b.run_subprocess(
        *flags("cache-b", server.address, True), "package", "testprojects/c/hello_http:image"
    )
    rc.assert_success()
    assert "Failed to read from remote cache" in rc.stderr, rc.stderr[-4000:]
