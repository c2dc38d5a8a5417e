"""The Zig toolchain (`ziglang` from PyPI), used as a hermetic C compiler: `zig cc`."""

from __future__ import annotations

from pants.backend.python.subsystems.python_tool_base import LockfileRules, PythonToolBase
from pants.backend.python.target_types import EntryPoint
from pants.engine.rules import collect_rules
from pants.option.option_types import StrOption
from pants.util.strutil import softwrap


class Zig(PythonToolBase):
    options_scope = "zig"
    name = "Zig"
    help = softwrap(
        """
        The Zig toolchain from PyPI (https://pypi.org/project/ziglang/). Its `zig cc` compiles
        C programs and the guest init, statically linked against musl, without any host
        compiler.
        """
    )

    default_version = "ziglang==0.13.0"
    default_main = EntryPoint("ziglang")
    default_requirements = ["ziglang>=0.11,<0.14"]

    register_interpreter_constraints = True
    default_interpreter_constraints = ["CPython>=3.7,<4"]

    default_lockfile_resource = ("unikernel_rules.subsystems", "zig.lock")
    lockfile_rules_type = LockfileRules.SIMPLE

    target = StrOption(
        default="x86_64-linux-musl",
        advanced=True,
        help="The `-target` triple passed to `zig cc`.",
    )


def rules():
    return collect_rules()
