from __future__ import annotations

from unikernel_rules.runtimes.python_memory import (
    INTERPRETER_MIB,
    distribution_name,
    runtime_memory_mib,
    typical_memory_mib,
)


def test_distribution_names_are_canonical() -> None:
    assert distribution_name("Werkzeug-3.0.6-py3-none-any.whl") == "werkzeug"
    assert distribution_name("MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.whl") == "markupsafe"
    assert distribution_name("zope.interface-6.0.tar.gz") == "zope-interface"


def test_estimate_grows_with_the_app_and_its_known_allocations() -> None:
    bare = runtime_memory_mib(0, [])
    assert bare == INTERPRETER_MIB
    small = runtime_memory_mib(30_000, ["markupsafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.whl"])
    assert small == INTERPRETER_MIB + 1
    # Flask + Werkzeug: 2.7 MB of .pyc (~12 MiB of heap) and scrypt's 32 MiB per password hash.
    flask = runtime_memory_mib(2_700_000, ["flask-3.0.3-py3-none-any.whl", "werkzeug-3.0.6-py3-none-any.whl"])
    assert flask >= INTERPRETER_MIB + 12 + 32
    # Never below flaskr's measured floor (78 MiB with register + login) with the disk root's 20.
    flaskr_pyc_bytes = 2_950_000
    assert 20 + runtime_memory_mib(flaskr_pyc_bytes, ["werkzeug-3.0.6-py3-none-any.whl"]) >= 78


def test_typical_memory_has_headroom_and_a_minimum() -> None:
    assert typical_memory_mib(30) == 64
    assert typical_memory_mib(75) == 128
    assert typical_memory_mib(96) == 128
    assert typical_memory_mib(97) == 160
