"""Fields this plugin adds to Pants' `pex_binary`."""

from __future__ import annotations


from pants.engine.target import (
    StringField,
    StringSequenceField,
)
from pants.util.strutil import softwrap

# --- Fields this plugin adds to `pex_binary` ----------------------------------------------------


class UnikernelStdlibField(StringField):
    alias = "unikernel_stdlib"
    default = "full"
    valid_choices = ("imported", "full")
    help = softwrap(
        """
        Which of the standard library a unikernel image of this `pex_binary` holds.
        `full` (the default): the whole trimmed standard library (`[unikernel-python].drop`
        applies). `imported`: only the modules the app can import, found at build time by
        following every `import` statement from the entry point (`modulefinder`: imports in
        functions and `try` blocks count), plus what the interpreter needs to start and print
        tracebacks, and every codec; shared libraries then follow from the C modules kept.
        Modules imported by a computed name (`importlib.import_module(name)`) are not found:
        list them in `unikernel_stdlib_keep`; a module left out fails at run time with
        `ModuleNotFoundError`. Measured on testprojects/python/hello_http: 17.0 -> 13.1 MB of
        rootfs.img.
        """
    )


class UnikernelStdlibKeepField(StringSequenceField):
    alias = "unikernel_stdlib_keep"
    default = ()
    help = softwrap(
        """
        Standard-library modules to keep in the image although no `import` statement names
        them (with `unikernel_stdlib="imported"`), e.g. `["json", "xml.etree.ElementTree"]`.
        """
    )
