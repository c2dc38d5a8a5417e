from __future__ import annotations

from unikernel_rules.debian.apt_sources import default_mirror


def test_one_line_sources(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
        "deb http://two.example/debian bookworm main\n"
    )
    assert default_mirror(str(tmp_path)) == "http://one.example/debian"


def test_deb822_sources_skip_security_and_disabled(tmp_path):
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "a.sources").write_text(
        "Types: deb\nURIs: http://off.example/debian\nEnabled: no\nSuites: x\n\n"
        "Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb deb-src\nURIs: http://main.example/debian/\nSuites: bookworm\n"
    )
    (d / "b.list.disabled").write_text("deb http://never.example/debian bookworm main\n")
    assert default_mirror(str(tmp_path)) == "http://main.example/debian"


def test_no_sources(tmp_path):
    assert default_mirror(str(tmp_path)) is None
