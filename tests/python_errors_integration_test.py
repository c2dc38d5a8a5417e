"""Bad inputs of Python images: one clear message each (no Python traceback from Pants)."""

from __future__ import annotations

from typing import Iterator

import pytest

from pants_repo import RepoCopy, fails_with


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("python-errors") / "repo")
    repo.write_python_app("testprojects/pybad/new", "print('hi')\n", constraints="CPython>=3.12")
    repo.write_python_app(
        "testprojects/pybad/cxx",
        "import msgpack\nprint(msgpack.packb([1]))\n",
        dependencies="3rdparty/python:msgpack",
    )
    repo.write(
        "testprojects/pybad/entry/main.py", "def main():\n    print('hi')\n"
    )
    repo.write(
        "testprojects/pybad/entry/BUILD",
        """\
        python_sources(resolve="python-apps", interpreter_constraints=["CPython==3.11.*"])
        pex_binary(name="app", entry_point="main.py:mian", resolve="python-apps",
                   interpreter_constraints=["CPython==3.11.*"])
        unikernel_image(name="image", dependencies=[":app"])
        """,
    )
    repo.write_python_app(
        "testprojects/pybad/unlocked",
        "import requests\n",
        dependencies="testprojects/pybad/unlocked:requests",
    )
    with open(repo.root / "testprojects/pybad/unlocked/BUILD", "a") as f:
        f.write('python_requirement(name="requests", requirements=["requests==2.32.3"], resolve="python-apps")\n')
    yield repo
    repo.cleanup()


def test_interpreter_constraints_that_exclude_the_image_python(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/pybad/new:image",
        expect=["testprojects/pybad/new:app", "CPython>=3.12", "CPython 3.11.2", 'interpreter_constraints=["CPython==3.11.*"]'],
    )


def test_native_wheel_needing_a_library_the_image_lacks(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/pybad/cxx:image",
        expect=["libstdc++.so.6", "msgpack/_cmsgpack.cpython-311-x86_64-linux-gnu.so", "libstdc++6", "[unikernel-python].extra_packages"],
    )


def test_entry_point_function_that_does_not_exist(repo: RepoCopy) -> None:
    fails_with(
        repo, "package", "testprojects/pybad/entry:image",
        expect=["testprojects/pybad/entry:app", "`main.py:mian`", "defines no `mian`", "Fix `entry_point`"],
    )


def test_requirement_missing_from_the_lockfile(repo: RepoCopy) -> None:
    text = fails_with(
        repo, "package", "testprojects/pybad/unlocked:image",
        expect=[
            "testprojects/pybad/unlocked:app",
            "`requests==2.32.3` (declared by testprojects/pybad/unlocked:requests), which is not in the lockfile",
            "`python-apps`",
            "./pants generate-lockfiles --resolve=python-apps",
        ],
    )
    # Ours, instead of pex's resolver output or Pants' stale-lockfile report.
    assert "Failed to resolve" not in text and "stale" not in text, text
