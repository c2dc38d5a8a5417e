from __future__ import annotations

from diffoscope_report import diffoscope_pex, diffoscope_report, mismatch_report


def test_diffoscope_pex_is_in_the_sandbox() -> None:
    assert diffoscope_pex() is not None


def test_text_files_differ_line_by_line(tmp_path) -> None:
    (tmp_path / "a").write_text("hello\nworld\n")
    (tmp_path / "b").write_text("hello\nWorld\n")
    report = diffoscope_report(tmp_path / "a", tmp_path / "b")
    assert "-world" in report and "+World" in report, report


def test_binary_files_differ_as_hexdump_and_are_cut(tmp_path) -> None:
    data = bytes(range(256)) * 64
    (tmp_path / "a").write_bytes(data)
    (tmp_path / "b").write_bytes(data[:100] + b"\xff" + data[101:])
    report = diffoscope_report(tmp_path / "a", tmp_path / "b", limit=700)
    assert "+00000060:" in report, report
    assert "more characters of diffoscope output cut" in report


def test_identical_files_give_no_report(tmp_path) -> None:
    (tmp_path / "a").write_text("same\n")
    (tmp_path / "b").write_text("same\n")
    assert diffoscope_report(tmp_path / "a", tmp_path / "b").strip() == ""
    assert "==== x ====" in mismatch_report([("x", tmp_path / "a", tmp_path / "b")])
