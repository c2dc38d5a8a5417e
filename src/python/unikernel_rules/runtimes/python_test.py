from __future__ import annotations

import pytest
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException
from pants.testutil.option_util import create_subsystem

from unikernel_rules.runtimes.python import check_interpreter_constraints

UNIVERSE = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


@pytest.mark.parametrize("constraint", ["CPython==3.11.*", "CPython>=3.8", "CPython>=3.11,<3.12"])
def test_admitting_constraints_pass(constraint: str) -> None:
    setup = create_subsystem(PythonSetup, interpreter_versions_universe=UNIVERSE)
    check_interpreter_constraints(Address("app"), InterpreterConstraints([constraint]), "3.11.2", setup)


@pytest.mark.parametrize("constraint", ["CPython==3.9.*", "CPython>=3.12", "CPython>=3.11.5,<3.12"])
def test_mismatch_names_both(constraint: str) -> None:
    setup = create_subsystem(PythonSetup, interpreter_versions_universe=UNIVERSE)
    constraints = InterpreterConstraints([constraint])
    with pytest.raises(InvalidFieldException) as e:
        check_interpreter_constraints(Address("a", target_name="app"), constraints, "3.11.2", setup)
    message = str(e.value)
    assert "a:app" in message and "CPython 3.11.2" in message and str(constraints) in message
