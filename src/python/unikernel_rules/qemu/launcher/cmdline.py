"""The kernel command line: quoting app arguments the way the kernel splits them."""

from __future__ import annotations

import os
from typing import List, Sequence, Tuple

from .options import LaunchError

# x86's COMMAND_LINE_SIZE is 2048 bytes including the terminating NUL.
KERNEL_CMDLINE_MAX = 2047
# init/main.c: argv_init holds "init" plus at most CONFIG_INIT_ENV_ARG_LIMIT - 1 (= 31) arguments.
MAX_APP_ARGS = 31
# A `KEY=VALUE` word before ` -- ` that the kernel does not know lands in init's environment:
# this one tells init to drop the image's `args` and use only the ones after ` -- `.
REPLACE_ARGS_PARAM = "UNIKERNEL_REPLACE_ARGS=1"
# A run-time network mode (`--unikernel-run-network`) different from the image's: init reads it
# from its environment (the kernel passes unknown KEY=VALUE words to init), so that `host` also
# lifts the guest's reject route to the host's loopback (see init/setup.c setup_network()).
NETWORK_PARAM = "UNIKERNEL_NETWORK"

# Bytes that the kernel's isspace() treats as whitespace when it splits the command line
# (lib/ctype.c: \t \n \v \f \r, space, and 0xA0, which appears inside UTF-8 sequences).
_KERNEL_SPACE_BYTES = frozenset(b"\t\n\x0b\x0c\r \xa0")


def kernel_quote(arg: str) -> str:
    """Quote one init argument for the kernel command line, or raise LaunchError."""
    if arg == "--":
        raise LaunchError(
            "the app argument '--' cannot be passed: the kernel command line uses '--' to end "
            "the kernel's own parameters and drops everything after a second one"
        )
    if '"' in arg:
        raise LaunchError(
            f"the app argument {arg!r} contains a double quote (\"), which the Linux kernel "
            "command line cannot carry; pass the value another way (a file in the image, or "
            "an argument without quotes)"
        )
    if "\n" in arg or "\r" in arg:
        raise LaunchError(
            f"the app argument {arg!r} contains a line break, which the Linux kernel command "
            "line cannot carry"
        )
    raw = os.fsencode(arg)
    if raw == b"" or any(b in _KERNEL_SPACE_BYTES for b in raw):
        return f'"{arg}"'
    return arg


def kernel_cmdline(base: str, app_args: Sequence[str], kernel_params: Sequence[str] = ()) -> str:
    """The bundle's command line plus `kernel_params` (before any ` -- `), with the app
    arguments appended after ` -- ` (the kernel hands the words after it to init as argv)."""
    if len(app_args) > MAX_APP_ARGS:
        raise LaunchError(
            f"too many app arguments ({len(app_args)}): the kernel passes at most "
            f"{MAX_APP_ARGS} arguments to init"
        )
    quoted = " ".join(kernel_quote(a) for a in app_args)
    base = base.strip()
    dashes = [start for word, start, _ in _kernel_words(base) if word == "--"]
    if dashes:
        raw = os.fsencode(base)
        kernel_part = os.fsdecode(raw[: dashes[0]]).strip()
        init_part = os.fsdecode(raw[dashes[0] + 2 :]).strip()
    else:
        kernel_part, init_part = base, ""
    kernel_part = " ".join(w for w in [kernel_part, *kernel_params] if w)
    init_part = " ".join(w for w in [init_part, quoted] if w)
    cmdline = kernel_part
    if dashes or init_part:
        cmdline = f"{kernel_part} -- {init_part}".strip() if kernel_part else f"-- {init_part}".strip()
    size = len(os.fsencode(cmdline))
    if size > KERNEL_CMDLINE_MAX:
        raise LaunchError(
            f"the kernel command line would be {size} bytes, over the limit of "
            f"{KERNEL_CMDLINE_MAX}: pass fewer or shorter app arguments"
        )
    return cmdline


def check_kernel_param(param: str) -> None:
    if not param or param == "--" or any(c in param for c in '"\n\r') or kernel_quote(param) != param:
        raise LaunchError(f"bad kernel parameter {param!r}: one word, without quotes or spaces")


def split_kernel_cmdline(cmdline: str) -> List[str]:
    """Split a command line into words the way the kernel's next_arg() does (lib/cmdline.c),
    with the quotes removed as init sees them."""
    return [word for word, _, _ in _kernel_words(cmdline)]


def _kernel_words(cmdline: str) -> List[Tuple[str, int, int]]:
    """(word, start byte, end byte) for each word, split and unquoted as the kernel does."""
    words = []
    s = os.fsencode(cmdline)
    i = 0
    n = len(s)
    while True:
        while i < n and s[i] in _KERNEL_SPACE_BYTES:
            i += 1
        if i >= n:
            break
        first = i
        quoted = s[i] == ord('"')
        if quoted:
            i += 1
        in_quote = quoted
        start = i
        equals = -1
        while i < n and not (s[i] in _KERNEL_SPACE_BYTES and not in_quote):
            if equals < 0 and s[i] == ord("=") and i > start:
                equals = i
            if s[i] == ord('"'):
                in_quote = not in_quote
            i += 1
        word = bytearray(s[start:i])
        end_quote = len(word) > 0 and word[-1] == ord('"')
        if equals >= 0:
            e = equals - start
            param, val = word[:e], word[e + 1 :]
            if val[:1] == b'"':
                val = val[1:]
                if end_quote:
                    val = val[:-1]
                    end_quote = False
            elif quoted and end_quote:
                val = val[:-1]
            word = param + b"=" + val
        elif quoted and end_quote:
            word = word[:-1]
        words.append((os.fsdecode(bytes(word)), first, i))
        if i < n:
            i += 1
    return words
