"""`pants package` + boot of testprojects/python/hello_http, and an app that fails at import."""

from __future__ import annotations

import json

from typing import Iterator

import pytest

from pants_repo import RepoCopy
from unikernel_rules.qemu import launcher

IMAGE = "testprojects/python/hello_http:image"
BUNDLE = "testprojects.python.hello_http/image"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("python-image") / "repo")
    yield repo
    repo.cleanup()


def test_package_boot_and_fetch(repo: RepoCopy) -> None:
    repo.run("package", IMAGE).assert_success()
    bundle = repo.bundle(BUNDLE)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["target"] == IMAGE
    assert manifest["runtime"] == "python"
    for name, entry in manifest["files"].items():
        assert entry["size"] == (bundle / name).stat().st_size

    port = launcher.free_port()
    result = launcher.boot(
        str(bundle),
        ports=[(port, 8080)],
        accel="tcg",
        ready=r"READY",
        stop_after_ready=True,
        http_get="8080/hello",
        timeout=180,
        quiet=True,
    )
    assert result.ready_line, result.output
    # The compiled extension of the third-party wheel loaded (its shared libraries are there).
    assert "speedups=markupsafe._speedups" in result.ready_line, result.output
    assert result.http_status == 200, result.output
    assert result.http_body == "Hello from a Python unikernel! /hello visits=1\n", result.output


def test_standard_library_c_modules_and_writable_dirs(repo: RepoCopy) -> None:
    image = repo.write_python_app(
        "testprojects/pyrun/stdlib",
        """\
        import bz2, hashlib, lzma, os, sqlite3, ssl, uuid, xml.parsers.expat, zlib
        db = sqlite3.connect("/tmp/t.db")  # a file database: needs file locking in the kernel
        db.execute("create table t (x)"); db.execute("insert into t values (1)"); db.commit()
        assert db.execute("select count(*) from t").fetchone() == (1,)
        assert hashlib.scrypt(b"pw", salt=b"s", n=2, r=1, p=1)  # OpenSSL through hashlib
        assert ssl.create_default_context()
        for mod in (bz2, zlib):
            assert mod.decompress(mod.compress(b"x" * 100)) == b"x" * 100
        # (lzma's default preset needs ~94 MiB; the image has 64.)
        assert lzma.decompress(lzma.compress(b"x" * 100, preset=1)) == b"x" * 100
        assert uuid.uuid4().version == 4
        xml.parsers.expat.ParserCreate().Parse("<a/>", True)
        with open("written-in-workdir", "w") as f:  # the working directory is writable
            f.write("ok")
        print("STDLIB-OK", os.getcwd(), sorted(os.listdir(".")))
        """,
    )
    result = repo.run("run", image)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "STDLIB-OK /app" in result.stdout and "written-in-workdir" in result.stdout, result.stdout


def test_app_raising_at_import_shows_traceback_and_fails(repo: RepoCopy) -> None:
    image = repo.write_python_app(
        "testprojects/pyrun/broken", "import json\nraise RuntimeError('boom at import')\n"
    )
    result = repo.run("run", image)
    assert result.exit_code == 1, result.stdout + result.stderr
    console = result.stdout + result.stderr
    assert "Traceback (most recent call last)" in console
    assert 'File "/opt/app/lib/python3.11/site-packages/testprojects/pyrun/broken/main.py", line 2' in console
    assert "RuntimeError: boom at import" in console


def test_an_app_of_a_second_resolve_with_wider_constraints(repo: RepoCopy) -> None:
    # python-compat (CPython>=3.9,<3.13) beside python-apps: any resolve admitting 3.11 works.
    repo.write("testprojects/pyrun/compat/main.py", """\
        import sys
        import markupsafe
        from markupsafe import _speedups  # the wheel's compiled extension, for 3.11
        print("COMPAT-OK", sys.version.split()[0], markupsafe.escape("<x>"))
        """)
    repo.write("testprojects/pyrun/compat/BUILD", """\
        __defaults__({(python_sources, pex_binary): dict(
            resolve="python-compat", interpreter_constraints=["CPython>=3.9,<3.13"])})
        python_sources(dependencies=["3rdparty/python:markupsafe-compat"])
        pex_binary(name="app", entry_point="main.py")
        unikernel_image(name="image", dependencies=[":app"])
        """)
    result = repo.run("run", "testprojects/pyrun/compat:image")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "COMPAT-OK 3.11.2 &lt;x&gt;" in result.stdout, result.stdout
