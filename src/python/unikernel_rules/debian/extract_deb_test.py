from __future__ import annotations

import io
import lzma
import os
import tarfile
from pathlib import Path

import pytest

from unikernel_rules.debian.extract_deb import DebError, extract


def _ar(members) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out.write(header + data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def _data_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name, type_=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname, info.size = type_, mode, link, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
        add("./", tarfile.DIRTYPE, mode=0o755)
        add("./usr/bin/", tarfile.DIRTYPE, mode=0o755)
        add("./usr/bin/tool", data=b"ELF", mode=0o4755)
        add("./usr/bin/tool-again", tarfile.LNKTYPE, link="./usr/bin/tool")
        add("./lib64/ld.so", tarfile.SYMTYPE, link="/lib/x86_64-linux-gnu/ld.so")
        add("./usr/bin/rel", tarfile.SYMTYPE, link="tool")
        add("./usr/share/doc/tool/copyright", data=b"legal")
        add("./usr/share/man/man1/tool.1.gz", data=b"man")
        add("./dev/null", tarfile.CHRTYPE)
    return buf.getvalue()


def test_extract(tmp_path: Path) -> None:
    deb = tmp_path / "tool_1_amd64.deb"
    deb.write_bytes(_ar([("debian-binary", b"2.0\n"), ("control.tar.xz", b""), ("data.tar.xz", lzma.compress(_data_tar()))]))
    out = tmp_path / "root"
    extract(str(deb), str(out))
    assert (out / "usr/bin/tool").read_bytes() == b"ELF"
    assert os.stat(out / "usr/bin/tool").st_mode & 0o7777 == 0o755
    assert (out / "usr/bin/tool-again").read_bytes() == b"ELF" and not (out / "usr/bin/tool-again").is_symlink()
    assert os.readlink(out / "lib64/ld.so") == "../lib/x86_64-linux-gnu/ld.so"
    assert os.readlink(out / "usr/bin/rel") == "tool"
    assert not (out / "usr/share/doc").exists() and not (out / "usr/share/man").exists()
    assert not (out / "dev/null").exists()


def test_zstd_is_refused(tmp_path: Path) -> None:
    deb = tmp_path / "x.deb"
    deb.write_bytes(_ar([("debian-binary", b"2.0\n"), ("data.tar.zst", b"zz")]))
    with pytest.raises(DebError, match="zstd"):
        extract(str(deb), str(tmp_path / "out"))


def test_not_a_deb(tmp_path: Path) -> None:
    deb = tmp_path / "x.deb"
    deb.write_bytes(b"<html>404</html>")
    with pytest.raises(DebError, match="not a Debian package"):
        extract(str(deb), str(tmp_path / "out"))
