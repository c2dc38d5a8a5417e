"""The `c_program` and `c_library` targets and their fields."""

from __future__ import annotations


from pants.option.global_options import GlobMatchErrorBehavior
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    MultipleSourcesField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import softwrap

class CSourcesField(MultipleSourcesField):
    expected_file_extensions = (".c", ".h")
    help = softwrap(
        """
        C source files (`.c`) and headers (`.h`). The target's directory is on the include
        path of the target itself and of every target that depends on it, so
        `#include "lib.h"` finds the headers of a `c_library` dependency.
        """
    )


class CProgramSourcesField(CSourcesField):
    required = True


class CLibrarySourcesField(CSourcesField):
    default = ("*.c", "*.h")
    default_glob_match_error_behavior = GlobMatchErrorBehavior.ignore


class CTextualHeadersField(MultipleSourcesField):
    alias = "textual_headers"
    uses_source_roots = False
    help = softwrap(
        """
        Files that are only `#include`d, never compiled on their own (like Bazel's
        `textual_hdrs`): any extension, typically the `.c` files of a single-file
        amalgamation (e.g. Lua's `onelua.c`, which `#include`s every other `.c` file) or
        `.inc`/`.def` tables. They are in the sandbox of this target and of every target that
        depends on it, and the directory of each is on their include path. A file may not be
        both in `sources` (compiled) and in `textual_headers`.
        """
    )


class CDefinesField(StringSequenceField):
    alias = "defines"
    help = "Preprocessor definitions, e.g. `[\"NDEBUG\", \"PORT=8080\"]` (passed as `-D...`)."


class CCoptsField(StringSequenceField):
    alias = "copts"
    help = "Extra compiler flags, e.g. `[\"-O2\", \"-Wall\"]`."


class CLinkoptsField(StringSequenceField):
    alias = "linkopts"
    help = "Extra linker flags, e.g. `[\"-lm\"]`. Linking is always static against musl."


class CDependenciesField(Dependencies):
    help = "Other `c_library` targets this one uses (their headers and objects)."


class CBinaryNameField(StringField):
    alias = "binary_name"
    help = "Name of the executable; defaults to the target's name."


class CProgramTarget(Target):
    alias = "c_program"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        CProgramSourcesField,
        CTextualHeadersField,
        CDefinesField,
        CCoptsField,
        CLinkoptsField,
        CDependenciesField,
        CBinaryNameField,
    )
    help = softwrap(
        """
        A C program, compiled and statically linked against musl by the Zig toolchain from
        PyPI (`zig cc -target x86_64-linux-musl -static`): no host compiler is used. Depend on
        it from a `unikernel_image` to boot it.
        """
    )


class CLibraryTarget(Target):
    alias = "c_library"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        CLibrarySourcesField,
        CTextualHeadersField,
        CDefinesField,
        CCoptsField,
        CDependenciesField,
    )
    help = "C sources and headers used by `c_program` targets (compiled into a static archive)."
