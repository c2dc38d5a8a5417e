import lzma
import sys
from pathlib import Path

from unikernel_rules.debian.extract_deb_test import _ar, _data_tar

# The script imports extract_deb as a sibling module (both are shipped into its sandbox).
sys.path.insert(0, str(Path(__file__).parent))
from unikernel_rules.debian import deb_copyright  # noqa: E402


def _deb() -> bytes:
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", b""), ("data.tar.xz", lzma.compress(_data_tar()))])


def test_the_copyright_file_extraction_skips(tmp_path: Path) -> None:
    assert deb_copyright.copyright_of(_deb(), "tool") == b"legal"
    assert deb_copyright.copyright_of(_deb(), "other") is None


def test_main_writes_nothing_without_one(tmp_path: Path) -> None:
    deb = tmp_path / "tool_1_amd64.deb"
    deb.write_bytes(_deb())
    assert deb_copyright.main([str(deb), "tool", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out").read_bytes() == b"legal"
    assert deb_copyright.main([str(deb), "other", str(tmp_path / "none")]) == 0
    assert not (tmp_path / "none").exists()
