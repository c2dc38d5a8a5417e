"""A third-party C amalgamation (Lua's onelua.c) booted with files placed anywhere in the guest,
and the bad inputs of `textual_headers` and of file placement (issue 10, scope items 2 and 7)."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from pants_repo import RepoCopy, fails_with

IMAGE = "testprojects/c/lua:image"
BUNDLE = "testprojects.c.lua/image"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("c-files") / "repo")
    yield repo
    repo.stop_pantsd()
    repo.cleanup()


def test_lua_amalgamation_runs_the_relocated_script(repo: RepoCopy) -> None:
    repo.run("package", IMAGE, use_pantsd=True).assert_success()
    # One boot: `pants run` boots the packaged image and returns the app's exit status.
    result = repo.run("run", IMAGE, use_pantsd=True)
    assert result.exit_code == 0, result.stdout + result.stderr
    # The script found at /app/scripts/hello.lua (relocated_files), reading
    # /etc/hello/greeting.txt (unikernel_files), run by the interpreter built from onelua.c.
    assert "Hello from Lua 5.4 (/app/scripts/hello.lua)" in result.stdout, result.stdout
    assert "squares: 1 4 9 16 25" in result.stdout
    assert "sqrt(2) = 1.414214" in result.stdout
    manifest = json.loads((repo.bundle(BUNDLE) / "manifest.json").read_text())
    assert manifest["runtime"] == "c"
    assert manifest["target"] == IMAGE


def _fails(repo: RepoCopy, target: str, *expect: str) -> str:
    """`pants package TARGET` fails with one clear paragraph; a pantsd shared by the module's
    tests keeps each run to seconds."""
    return fails_with(repo, "package", target, expect=expect, use_pantsd=True)


def _app(repo: RepoCopy, directory: str) -> None:
    repo.write(f"{directory}/main.c", "int main(void) { return 0; }\n")


def test_dependency_the_image_cannot_use(repo: RepoCopy) -> None:
    _app(repo, "testprojects/bad_files/unusable")
    repo.write("testprojects/bad_files/unusable/lib/l.c", "int f(void) { return 1; }\n")
    repo.write(
        "testprojects/bad_files/unusable/BUILD",
        """\
        c_program(name="app", sources=["main.c"])
        c_library(name="lib", sources=["lib/l.c"])
        unikernel_image(name="image", dependencies=[":app", ":lib"])
        """,
    )
    _fails(
        repo,
        "testprojects/bad_files/unusable:image",
        "The `dependencies` field of the `unikernel_image` testprojects/bad_files/unusable:image",
        "testprojects/bad_files/unusable:lib (a `c_library` target)",
        "app target's own `dependencies`",
    )


@pytest.mark.parametrize(
    "name, build, expect",
    [
        (
            "relocated",
            'files(name="f", sources=["x.txt"])\n'
            'relocated_files(name="moved", files_targets=[":f"], src="", dest="../../etc")\n',
            ["The `dest` field of the `relocated_files` testprojects/bad_files/relocated:moved", "'../../etc'", "outside the image's", "unikernel_files("],
        ),
        (
            "absolute",
            'unikernel_files(name="moved", sources=["x.txt"], destination="/../x")\n',
            ["The `destination` field of the `unikernel_files` testprojects/bad_files/absolute:moved", "climbs above the guest's root"],
        ),
    ],
)
def test_destination_outside_the_image(repo: RepoCopy, name: str, build: str, expect: list) -> None:
    directory = f"testprojects/bad_files/{name}"
    _app(repo, directory)
    repo.write(f"{directory}/x.txt", "x\n")
    repo.write(
        f"{directory}/BUILD",
        'c_program(name="app", sources=["main.c"])\n' + build
        + 'unikernel_image(name="image", dependencies=[":app", ":moved"])\n',
    )
    _fails(repo, f"{directory}:image", *expect)


def test_two_files_at_one_guest_path(repo: RepoCopy) -> None:
    directory = "testprojects/bad_files/twice"
    _app(repo, directory)
    repo.write(f"{directory}/a/app.toml", "a = 1\n")
    repo.write(f"{directory}/b/app.toml", "b = 2\n")
    repo.write(f"{directory}/a/BUILD", 'unikernel_files(name="config", sources=["app.toml"], destination="/etc/myapp")\n')
    repo.write(f"{directory}/b/BUILD", 'unikernel_files(name="config", sources=["app.toml"], destination="/etc/myapp")\n')
    repo.write(
        f"{directory}/BUILD",
        'c_program(name="app", sources=["main.c"])\n'
        'unikernel_image(name="image", dependencies=[":app", "./a:config", "./b:config"])\n',
    )
    _fails(
        repo,
        f"{directory}:image",
        "place files at the guest path /etc/myapp/app.toml",
        f"{directory}/a:config",
        f"{directory}/b:config",
    )


@pytest.mark.parametrize(
    "name, part, sources, expect",
    [
        # An error inside an #included file is reported at that file's line.
        ("textual", "static int part(void) {\n  return 0\n}\n", '["main.c"]', ["c_program {d}:app", "{d}/part.c:2:", "error:"]),
        # A file both compiled and included.
        ("both", "static int part(void) { return 0; }\n", '["*.c"]', ["The `textual_headers` field of {d}:app", "{d}/part.c", '"!part.c"']),
    ],
)
def test_textual_headers_errors(repo: RepoCopy, name: str, part: str, sources: str, expect: list) -> None:
    directory = f"testprojects/bad_files/{name}"
    repo.write(f"{directory}/main.c", '#include "part.c"\nint main(void) { return part(); }\n')
    repo.write(f"{directory}/part.c", part)
    repo.write(
        f"{directory}/BUILD",
        f'c_program(name="app", sources={sources}, textual_headers=["part.c"])\n'
        'unikernel_image(name="image", dependencies=[":app"])\n',
    )
    _fails(repo, f"{directory}:image", *(e.format(d=directory) for e in expect))
