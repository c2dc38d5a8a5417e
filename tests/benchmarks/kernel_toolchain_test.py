"""Unit tests of the kernel toolchain benchmark's pure parts (no build)."""

from __future__ import annotations

from benchmarks import kernel_toolchain as kt

RUN_SH = """#!/usr/bin/env bash
# This command line should execute the same process as pants did internally.
cd /tmp/sb/pants-sandbox-x
env -i PATH=$'/usr/bin:/bin' ./toolchain_sandbox -e $'KBUILD_BUILD_TIMESTAMP=1970-01-01 00:00:00 UTC' -e $'LC_ALL=C' -e $'PATH=/usr/bin:/bin' tree /build /bin/bash /build/build_kernel.sh $'linux-source-6.1_6.1.176-1_all.deb' 2 $'builtin:base=fragments/00.config'
"""


def test_host_build_command_reads_env_and_arguments() -> None:
    env, args = kt.host_build_command(RUN_SH)
    assert env == {"KBUILD_BUILD_TIMESTAMP": "1970-01-01 00:00:00 UTC", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}
    assert args == ["linux-source-6.1_6.1.176-1_all.deb", "2", "builtin:base=fragments/00.config"]


def test_shell_words_unquote() -> None:
    assert kt.shell_words(r"a $'b c' $'it\'s' 'd e'") == ["a", "b c", "it's", "d e"]


def test_kernel_wall_time_from_the_log() -> None:
    log = (
        "23:59:50.00 [INFO] Starting: Building the Linux 6.1 kernel of x (several minutes, cached)\n"
        "00:09:50.50 [INFO] Completed: Building the Linux 6.1 kernel of x (several minutes, cached)\n"
    )
    assert kt.kernel_wall_s(log) == 600.5
    assert kt.kernel_wall_s("nothing") is None


FIGURES = {
    "measured": "2026-12-01 23:00 UTC", "locked_s": 500.0, "host_s": 480.0, "ratio": 1.042, "jobs": "2",
    "load_locked": "1.0 / 1.0 / 1.0", "load_host": "2.0 / 1.5 / 1.2", "locked_sha256": "a" * 64,
    "host_sha256": "a" * 64, "identical": True, "host_gcc": "gcc (Debian 12.2.0-14) 12.2.0", "cpus": 2,
}


def test_section_is_inserted_before_reproducibility_and_replaced_in_place() -> None:
    md = "# Report\n\n## Image\n\ntext\n\n## Reproducibility and remote cache (all)\n\nfigures\n"
    once = kt.replace_section(md, FIGURES)
    assert "| ratio locked / host | 1.042 | ≤ 1.15 | ✅ |" in once
    assert "| same kernel bytes | yes" in once
    assert once.index(kt.HEADING) < once.index("## Reproducibility")
    again = kt.replace_section(once, {**FIGURES, "ratio": 1.3, "identical": False, "host_sha256": "b" * 64})
    assert again.count(kt.HEADING) == 1 and "| ratio locked / host | 1.3 | ≤ 1.15 | ❌ |" in again
    assert again.endswith("figures\n") and "## Image\n\ntext" in again
    assert "Not measured" in kt.replace_section("# R\n", None)


def test_ci_section_shows_fresh_and_warm() -> None:
    from benchmarks import ci_budget

    figures = {"warm": {"wall_s": 1500.0, "status": "0", "finished": "2026-12-01 23:40 UTC", "targets_ran": 30,
                        "slowest": [["tests/reproducibility_integration_test.py:integration", 1080.0]]}}
    text = ci_budget.replace_section("# R\n\n## Reproducibility and remote cache\n", figures)
    assert "| fresh | not measured on this machine | ≤ 60 min |" in text
    assert "| warm | 25.0 min ✅ | ≤ 25 min | 2026-12-01 23:40 UTC | 0 | 30 | reproducibility_integration_test.py 18.0 min |" in text
    assert text.index(ci_budget.HEADING) < text.index("## Reproducibility")
