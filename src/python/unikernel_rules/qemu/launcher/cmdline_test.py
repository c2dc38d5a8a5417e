"""Unit tests of cmdline.py and the port/HTTP-target parsers: what reaches the kernel command line."""

from __future__ import annotations

import socket

import pytest

from unikernel_rules.qemu import launcher
from unikernel_rules.qemu.launcher import (
    LaunchError,
    LaunchOptions,
    kernel_cmdline,
    kernel_quote,
    parse_http_get,
    parse_port,
    qemu_argv,
    split_kernel_cmdline,
)
from unikernel_rules.qemu.launcher_testutil import TCG_HOST, make_bundle, opt_value


def test_app_args_appended_after_dashes():
    argv = qemu_argv(make_bundle(), LaunchOptions(app_args=["--port", "80", "x=y"]), TCG_HOST)
    assert opt_value(argv, "-append") == "console=ttyS0 panic=-1 quiet -- --port 80 x=y"


@pytest.mark.parametrize(
    "arg, quoted",
    [
        ("plain", "plain"),
        ("--flag=value", "--flag=value"),
        ("hello world", '"hello world"'),
        ("tab\there", '"tab\there"'),
        ("", '""'),
        ("a=b c", '"a=b c"'),
        # U+00E0 is C3 A0 in UTF-8, and the kernel's isspace() is true for 0xA0.
        ("x\u00e0y", '"x\u00e0y"'),
        ("caf\u00e9", "caf\u00e9"),
    ],
)
def test_kernel_quote(arg, quoted):
    assert kernel_quote(arg) == quoted


@pytest.mark.parametrize("bad", ['say "hi"', "two\nlines", "cr\r", "--"])
def test_kernel_quote_rejects(bad):
    with pytest.raises(LaunchError):
        kernel_quote(bad)


def test_bad_app_arg_rejected_by_qemu_argv():
    with pytest.raises(LaunchError, match="double quote"):
        qemu_argv(make_bundle(), LaunchOptions(app_args=['{"a": 1}']), TCG_HOST)


@pytest.mark.parametrize(
    "args",
    [
        ["hello world", "a=b c", "", "x=y", "--k=v w", "\u00e9 \u00e0", "x\u00e0y", "a= b", "a b=", "=x y"],
        ["-"],
        ["="],
    ],
)
def test_app_args_round_trip_through_kernel_split(args):
    cmdline = kernel_cmdline("console=ttyS0 quiet", args)
    words = split_kernel_cmdline(cmdline)
    assert words[words.index("--") + 1 :] == args


def test_split_kernel_cmdline_matches_kernel_rules():
    assert split_kernel_cmdline('a="b c" "d e" f  g') == ["a=b c", "d e", "f", "g"]
    assert split_kernel_cmdline('  x=1\t"" y') == ["x=1", "", "y"]


def test_cmdline_that_already_has_dashes_gets_no_second():
    assert kernel_cmdline("quiet -- baked", ["more"]) == "quiet -- baked more"
    assert kernel_cmdline("quiet -- baked", [], ["p=1"]) == "quiet p=1 -- baked"
    assert kernel_cmdline('quiet "a -- b" -- baked', ["more"], ["p"]) == 'quiet "a -- b" p -- baked more'
    assert kernel_cmdline("quiet --", ["x"]) == "quiet -- x"
    assert kernel_cmdline("", ["x"]) == "-- x"
    assert kernel_cmdline("quiet", []) == "quiet"


def test_too_many_app_args():
    kernel_cmdline("quiet", ["a"] * launcher.MAX_APP_ARGS)
    with pytest.raises(LaunchError, match="too many"):
        kernel_cmdline("quiet", ["a"] * (launcher.MAX_APP_ARGS + 1))


def test_too_long_cmdline():
    kernel_cmdline("quiet", ["a" * 2000])
    with pytest.raises(LaunchError, match="limit"):
        kernel_cmdline("quiet", ["a" * 2100])
    # microvm's virtio_mmio.device= words count too.
    with pytest.raises(LaunchError, match="limit"):
        kernel_cmdline("quiet", ["a" * 2000], launcher.microvm_mmio_params(3))


@pytest.mark.parametrize(
    "spec, expected",
    [("8080", (8080, 8080)), ("18080:80", (18080, 80)), ("0:80", (0, 80)), (" 22 ", (22, 22))],
)
def test_parse_port(spec, expected):
    assert parse_port(spec) == expected


@pytest.mark.parametrize("spec", ["", "a", "1:2:3", "70000", "80:0", "-1:80", "80:"])
def test_parse_port_rejects(spec):
    with pytest.raises(ValueError):
        parse_port(spec)


def test_manifest_ports():
    m = {"ports": [{"host": 1, "guest": 2}, {"guest": 3}, "4:5"]}
    assert launcher.manifest_ports(m) == [(1, 2), (3, 3), (4, 5)]
    assert launcher.manifest_ports({}) == []


def test_parse_http_get():
    ports = [(18080, 8080), (9000, 9001)]
    assert parse_http_get("8080/healthz", ports) == (18080, "/healthz")
    assert parse_http_get("8080", ports) == (18080, "/")
    assert parse_http_get("9000/a/b?c=d", ports) == (9000, "/a/b?c=d")  # a host port
    assert parse_http_get("9001/", ports) == (9000, "/")  # guest ports win
    with pytest.raises(LaunchError, match="not forwarded"):
        parse_http_get("7/", ports)
    with pytest.raises(LaunchError):
        parse_http_get("web/", ports)


def test_free_port_is_bindable():
    port = launcher.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
