"""Unit tests of the per-image settings (the `benchmark` field and its command-line overrides) and goals."""

from __future__ import annotations

import pytest

from benchmarks import analysis
from benchmarks.settings import (
    ALL,
    DEFAULT_READY,
    GOALS,
    Goal,
    Overrides,
    SettingsError,
    exit_virtual_ms,
    extra_debian_packages,
    image_settings,
    split_override,
)

LUA = "testprojects/c/lua:image"
H2 = "testprojects/java/h2:image"


def test_defaults_without_field_or_options() -> None:
    s = image_settings(LUA, None)
    assert (s.until, s.ready, s.http_path, s.edit, s.source) == ("ready", DEFAULT_READY, "/", None, "default")
    assert s.reports_clock and not s.until_exit
    # peek shows an unset dict field as null, or an empty dict.
    assert image_settings(LUA, {}) == s


def test_field_sets_each_key() -> None:
    s = image_settings(H2, {"ready": "TCP server running", "http_path": "none", "edit": "/x/Main.java"})
    assert s.ready == "TCP server running" and not s.reports_clock
    assert s.http_path is None and s.edit == "x/Main.java" and s.source == "`benchmark` field"
    assert "no HTTP check" in s.describe() and "does not print its clock" in s.describe()
    s = image_settings(LUA, {"until": "exit"})
    assert s.until_exit and "to its exit" in s.describe() and "GET" not in s.describe()
    assert "GET" not in image_settings(LUA, None).describe(has_port=False)
    assert "`GET /` must answer 200 (settings from the default)" in image_settings(LUA, None).describe()


def test_command_line_wins_over_the_field_per_image_or_for_all() -> None:
    field = {"ready": "from field", "http_path": "/health"}
    one = Overrides(ready={LUA: r"cli (\d+)"}, until_exit=(), http_path={ALL: "/"})
    s = image_settings(LUA, field, one)
    assert s.ready == r"cli (\d+)" and s.http_path == "/" and s.source == "`benchmark` field and command line"
    # An override for another address leaves this one alone (except the ALL ones).
    s = image_settings(H2, field, one)
    assert s.ready == "from field" and s.http_path == "/"
    assert image_settings(LUA, None, Overrides(until_exit=(LUA,))).until_exit
    assert not image_settings(H2, None, Overrides(until_exit=(LUA,))).until_exit
    assert image_settings(H2, None, Overrides(until_exit=(ALL,))).until_exit


@pytest.mark.parametrize(
    "spec, expected",
    [
        (f"{LUA}=exit", (LUA, "exit")),
        (f"//{LUA}=x", (LUA, "x")),
        # A regex with `=` before which there is no address applies to every image.
        (DEFAULT_READY, (ALL, DEFAULT_READY)),
        ("READY monotonic_ms=([0-9.]+)", (ALL, "READY monotonic_ms=([0-9.]+)")),
        (f"{H2}=a=b", (H2, "a=b")),
        ("/health", (ALL, "/health")),
    ],
)
def test_split_override(spec: str, expected) -> None:
    assert split_override(spec) == expected


@pytest.mark.parametrize(
    "field, words",
    [
        ({"readyy": "x"}, ["unknown key", "'readyy'", "'ready'", "pants help unikernel_image"]),
        ({"until": "done"}, ["`until`", "'done'", '"exit"']),
        ({"ready": "("}, ["not a valid regular expression", "'('"]),
        ({"http_path": "health"}, ["`http_path`", "starting with `/`", '"none"']),
    ],
)
def test_bad_settings_name_the_target_the_key_and_the_fix(field, words) -> None:
    with pytest.raises(SettingsError) as e:
        image_settings(LUA, field)
    message = str(e.value)
    assert message.startswith(LUA + ": ") and "\n" not in message
    for w in words:
        assert w in message
    with pytest.raises(SettingsError):
        image_settings(LUA, None, Overrides(ready={LUA: "[unclosed"}))


def test_exit_virtual_ms_reads_inits_clock_line() -> None:
    assert exit_virtual_ms("app output\nUNIKERNEL_EXIT=0\n") is None
    out = "hello\nUNIKERNEL_EXIT_MONOTONIC_MS=41.250\nUNIKERNEL_EXIT=0\n"
    assert exit_virtual_ms(out) == 41.25
    assert exit_virtual_ms("") is None


def test_goals_are_per_image_examples_and_the_h2_app() -> None:
    assert GOALS["testprojects/c/hello_http:image"].total_mb == 1.5
    assert GOALS["testprojects/c/disk_hello:image"].ready_ms == 40
    assert GOALS["testprojects/python/hello_http:image"].ready_ms == 250
    assert GOALS["testprojects/java/hello_http:image"].floor_mib == 64
    assert GOALS[H2] == Goal(total_mb=30, extra_debian_packages=0)
    assert GOALS[H2].summary() == "total ≤ 30 MB, no extra Debian packages"
    # The other real apps are measured without goals.
    assert LUA not in GOALS and "testprojects/python/flaskr:image" not in GOALS


def test_extra_debian_packages_from_the_manifest() -> None:
    assert extra_debian_packages({}) is None
    assert extra_debian_packages({"app": {"main_class": "x"}}) is None
    assert extra_debian_packages({"app": {"extra_debian_packages": ""}}) == []
    assert extra_debian_packages({"app": {"extra_debian_packages": "libx11-6, libxext6"}}) == ["libx11-6", "libxext6"]
    assert extra_debian_packages({"app": {"extra_debian_packages": ["a"]}}) == ["a"]
    # What the Java runtime records (its `debian_packages` field).
    assert extra_debian_packages({"app": {"debian_packages": ""}}) == []
    assert extra_debian_packages({"app": {"debian_packages": "libfreetype6"}}) == ["libfreetype6"]


def _boot(**kw):
    from types import SimpleNamespace

    base = dict(timed_out=False, panicked=False, panic_line=None, app_exit=0, ready_line=None,
                exit_code=0, http_status=None, http_error=None, output="hi\nUNIKERNEL_EXIT=0\n")
    base.update(kw)
    return SimpleNamespace(**base)


def test_classify_boot_until_exit() -> None:
    assert analysis.classify_boot(_boot(), False, until_exit=True) == (True, "ok")
    ok, what = analysis.classify_boot(_boot(app_exit=3, exit_code=3), False, until_exit=True)
    assert not ok and "status 3" in what
    ok, what = analysis.classify_boot(_boot(app_exit=None, exit_code=1), False, until_exit=True)
    assert not ok and "no exit status" in what
    assert analysis.classify_boot(_boot(timed_out=True, app_exit=None), False, until_exit=True)[0] is False
    # The same boot measured until ready fails: there was no ready line.
    assert analysis.classify_boot(_boot(), False)[0] is False
