"""`[unikernel-python]`: the CPython runtime layer of Python images."""

from __future__ import annotations

from pants.engine.rules import collect_rules
from pants.option.option_types import StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

STDLIB = "usr/lib/python3.11"

# Not needed by a server in a VM without a terminal: tests, GUI, the IDE, installers, 2to3,
# pydoc's topic data, test-only C modules, and the C modules that would pull in terminal and
# legacy-database libraries (readline, curses -> ncurses; _dbm -> Berkeley DB; nis -> libnsl,
# libtirpc, Kerberos). Pure-Python fallbacks remain (dbm.dumb).
DEFAULT_DROP = (
    f"{STDLIB}/test/*",
    f"{STDLIB}/*/test/*",
    f"{STDLIB}/*/tests/*",
    f"{STDLIB}/idlelib/*",
    f"{STDLIB}/tkinter/*",
    f"{STDLIB}/turtledemo/*",
    f"{STDLIB}/turtle.py",
    f"{STDLIB}/ensurepip/*",
    f"{STDLIB}/lib2to3/*",
    f"{STDLIB}/pydoc_data/*",
    f"{STDLIB}/__phello__/*",
    f"{STDLIB}/__hello__.py",
    f"{STDLIB}/*/__pycache__/*",
    f"{STDLIB}/lib-dynload/_tkinter.*",
    f"{STDLIB}/lib-dynload/_test*",
    f"{STDLIB}/lib-dynload/_ctypes_test.*",
    f"{STDLIB}/lib-dynload/_xxtestfuzz.*",
    f"{STDLIB}/lib-dynload/xxlimited*",
    f"{STDLIB}/lib-dynload/readline.*",
    f"{STDLIB}/lib-dynload/_curses*",
    f"{STDLIB}/lib-dynload/_dbm.*",
    f"{STDLIB}/lib-dynload/nis.*",
    f"{STDLIB}/curses/*",
    # Debian's hook that reports crashes to apport (not in the image): 18 ms of boot per start.
    f"{STDLIB}/sitecustomize.py",
    "etc/python3.11/sitecustomize.py",
    "usr/share/*",
)


class PythonRuntimeSubsystem(Subsystem):
    options_scope = "unikernel-python"
    help = softwrap(
        """
        The CPython runtime layer of unikernel images whose app is a `pex_binary`: Debian's
        CPython packages from the Debian lock (`3rdparty/debian/debian.lock`), trimmed, with
        `.pyc` compiled at build time. See docs/python.md.
        """
    )

    debian_packages = StrListOption(
        default=["python3.11-minimal", "libpython3.11-stdlib"],
        help=softwrap(
            """
            Debian packages of the runtime (their dependency closure comes from the lock). The
            first one's version is the image's Python version. Each must be in
            `[debian-lock].packages`.
            """
        ),
        advanced=True,
    )
    extra_packages = StrListOption(
        default=[],
        help=softwrap(
            """
            More Debian packages whose shared libraries the app's native code may load, e.g.
            `libstdc++6` for a wheel with C++ extensions that does not bundle it. Add each to
            `[debian-lock].packages` too and re-lock (`pants generate-lockfiles --resolve=debian`).
            Only the libraries that some ELF file of the image needs are copied in.
            """
        ),
    )
    interpreter = StrOption(
        default="/usr/bin/python3.11",
        help="Path of the interpreter in the runtime packages (and in the guest).",
        advanced=True,
    )
    keep = StrListOption(
        default=["usr/bin/python3.11", f"{STDLIB}/", "etc/python3.11/"],
        help="Path prefixes (package-relative) of the runtime packages that go into the image.",
        advanced=True,
    )
    drop = StrListOption(
        default=list(DEFAULT_DROP),
        help=softwrap(
            """
            fnmatch patterns removed from what `keep` selected (`*` matches `/` too). The
            default removes tests, tkinter, idlelib, ensurepip, lib2to3, pydoc_data, test C
            modules and the terminal/legacy-database C modules (readline, curses, dbm, nis).
            """
        ),
        advanced=True,
    )
    compile_dirs = StrListOption(
        default=[STDLIB],
        help="Directories compiled to unchecked-hash `.pyc` at build time.",
        advanced=True,
    )


def rules():
    return collect_rules()
