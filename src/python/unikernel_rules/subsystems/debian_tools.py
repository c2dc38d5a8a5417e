"""`[debian-tools]`: python-debian and pyelftools from PyPI, run as one PEX tool in sandboxes."""

from __future__ import annotations

from pants.backend.python.subsystems.python_tool_base import (
    LockfileRules,
    PythonToolRequirementsBase,
)
from pants.engine.rules import collect_rules
from pants.util.strutil import softwrap


class DebianTools(PythonToolRequirementsBase):
    """A PEX without an entry point: processes run our own scripts with it (`pex script.py`)."""

    options_scope = "debian-tools"
    name = "debian-tools"
    help = softwrap(
        """
        Python libraries that our sandboxed scripts use: python-debian
        (https://pypi.org/project/python-debian/) to read Debian `Packages` indexes and resolve
        dependency closures when locking (`pants generate-lockfiles --resolve=debian`), and
        pyelftools (https://pypi.org/project/pyelftools/) to read ELF files. Locked in its own
        resolve: `pants generate-lockfiles --resolve=debian-tools`.
        """
    )

    default_version = "python-debian==1.1.1"
    default_extra_requirements = ["pyelftools==0.32"]
    default_requirements = ["python-debian>=0.1.49,<2", "pyelftools>=0.29,<1"]

    register_interpreter_constraints = True
    default_interpreter_constraints = ["CPython>=3.7,<4"]

    default_lockfile_resource = ("unikernel_rules.subsystems", "debian_tools.lock")
    lockfile_rules_type = LockfileRules.SIMPLE


def rules():
    return [*collect_rules(), *DebianTools.rules()]
