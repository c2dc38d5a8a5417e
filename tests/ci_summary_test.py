"""build-support/ci_summary.py: .ci/run's per-test duration summary (no Pants run)."""

from __future__ import annotations

from pathlib import Path

from pants_repo import build_support_module

summary = build_support_module("ci_summary")

LOG = """\
20:00:01.00 [INFO] Completed: Run Pytest - tests/a_test.py:tests - succeeded.
✓ src/x_test.py:tests succeeded in 1.50s (cached locally).
✓ tests/guest_integration_test.py:integration succeeded in 78.76s.
𐄂 tests/run_integration_test.py:integration failed in 565.00s.
✓ tests/c_test.py:tests succeeded in 2.00s (memoized).
"""

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="2" time="80.1">
<testcase classname="tests.guest_integration_test" name="test_https" time="40.5"/>
<testcase classname="tests.guest_integration_test" name="test_dns" time="9.25"/>
</testsuite></testsuites>
"""


def test_summary_sorts_ran_and_cached_targets_and_lists_slow_functions(tmp_path: Path) -> None:
    targets = summary.parse_log(LOG.splitlines())
    assert [(t.address, t.source) for t in targets] == [
        ("src/x_test.py:tests", "cached locally"),
        ("tests/guest_integration_test.py:integration", "ran"),
        ("tests/run_integration_test.py:integration", "ran"),
        ("tests/c_test.py:tests", "memoized"),
    ]
    (tmp_path / "tests.guest_integration_test.xml").write_text(REPORT)
    text = summary.render(targets, summary.parse_reports(tmp_path), 700.0)
    lines = text.splitlines()
    ran = lines.index("  test targets ran in this run:")
    assert "tests/run_integration_test.py:integration  FAILED" in lines[ran + 1]  # slowest first
    assert "tests/guest_integration_test.py:integration" in lines[ran + 2]
    assert "643.8s" in lines[ran + 3] and "total of 2 targets" in lines[ran + 3]
    assert any("from the cache" in line for line in lines)
    assert "tests.guest_integration_test::test_https" in text.split("slowest test functions")[1].splitlines()[1]
    assert "700.0s" in lines[-1]


def test_missing_log_and_reports_do_not_fail(tmp_path: Path) -> None:
    assert summary.main([str(tmp_path / "none.log"), str(tmp_path / "none")]) == 0
    assert "no test summary found" in summary.render([], [], None)


def test_record_keeps_fresh_and_warm_apart(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text(LOG)
    figures = tmp_path / "ci.json"
    summary.main([str(log), str(tmp_path / "none"), "1200", f"--record={figures}", "--cache=warm", "--status=0"])
    summary.main([str(log), str(tmp_path / "none"), "3000", f"--record={figures}", "--cache=fresh", "--status=1"])
    import json

    data = json.loads(figures.read_text())
    assert data["warm"]["wall_s"] == 1200.0 and data["warm"]["status"] == "0"
    assert data["fresh"]["wall_s"] == 3000.0 and data["fresh"]["status"] == "1"
    assert data["warm"]["slowest"][0][0] == "tests/run_integration_test.py:integration"
