"""Unit tests of the report's command line."""

from __future__ import annotations

from benchmarks import report

def test_parse_args_and_flags() -> None:
    args = report.parse_args(["--images", "testprojects/c/*,testprojects/python/*", "--images", "x:y", "--quick"])
    assert args.images == ["testprojects/c/*", "testprojects/python/*", "x:y"]
    assert args.quick and not args.skip_floor and args.output == "docs/benchmarks.md"
    assert report._report_flags(args) == [
        "--images testprojects/c/*", "--images testprojects/python/*", "--images x:y", "--quick",
    ]
    assert report._report_flags(report.parse_args([])) == []




def test_addresses_and_per_image_options() -> None:
    lua, h2 = "testprojects/c/lua:image", "testprojects/java/h2:image"
    args = report.parse_args([
        lua, f"//{h2}", "--until-exit=" + lua, "--ready-pattern", f"{h2}=TCP server running",
        "--http-path", f"{h2}=none", "--edit", f"{h2}=testprojects/java/h2/Main.java",
    ])
    assert args.addresses == [lua, h2]
    o = args.overrides
    assert o.until_exit == (lua,) and o.ready == {h2: "TCP server running"}
    assert o.http_path == {h2: "none"} and o.edit == {h2: "testprojects/java/h2/Main.java"}
    assert report._report_flags(args) == [
        lua, h2, f"--ready-pattern '{h2}=TCP server running'", f"--http-path {h2}=none",
        f"--edit {h2}=testprojects/java/h2/Main.java", f"--until-exit={lua}",
    ]
    # Without an address, an option applies to every image of the run.
    args = report.parse_args(["--until-exit", "--ready-pattern", r"ready after (\d+) ms"])
    assert args.overrides.until_exit == ("*",) and args.overrides.ready == {"*": r"ready after (\d+) ms"}
    assert report._report_flags(args)[-1] == "--until-exit"


def test_edit_needs_an_address(capsys) -> None:
    import pytest

    with pytest.raises(SystemExit):
        report.parse_args(["--edit", "main.c"])
    assert "--edit needs ADDRESS=FILE" in capsys.readouterr().err


def test_help_lists_the_per_image_options() -> None:
    text = report.build_parser().format_help()
    for option in ("ADDRESS", "--ready-pattern", "--until-exit", "--http-path", "--edit", "--images", "--quick"):
        assert option in text
