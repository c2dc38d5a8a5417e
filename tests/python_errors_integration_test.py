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
