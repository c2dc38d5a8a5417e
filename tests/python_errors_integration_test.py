"""Bad inputs of Python images: one clear message each (no Python traceback from Pants)."""

from __future__ import annotations

import pytest

from pants_repo import RepoCopy, fails_with


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> RepoCopy:
    repo = RepoCopy(tmp_path_factory.mktemp("python-errors") / "repo")
    repo.write("testprojects/pybad/new/main.py", "print('hi')\n")
    repo.write(
        "testprojects/pybad/new/BUILD",
        """\
        python_sources(resolve="python-apps", interpreter_constraints=["CPython>=3.12"])
        pex_binary(name="app", entry_point="main.py", resolve="python-apps", interpreter_constraints=["CPython>=3.12"])
        unikernel_image(name="image", dependencies=[":app"])
        """,
    )
    repo.write("testprojects/pybad/cxx/main.py", "import msgpack\nprint(msgpack.packb([1]))\n")
    repo.write(
        "testprojects/pybad/cxx/BUILD",
        """\
        python_sources(resolve="python-apps", interpreter_constraints=["CPython==3.11.*"], dependencies=["3rdparty/python:msgpack"])
        pex_binary(name="app", entry_point="main.py", resolve="python-apps", interpreter_constraints=["CPython==3.11.*"])
        unikernel_image(name="image", dependencies=[":app"])
        """,
    )
    return repo


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
