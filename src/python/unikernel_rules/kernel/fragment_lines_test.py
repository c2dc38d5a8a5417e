from __future__ import annotations

from unikernel_rules.kernel.fragment_lines import drop_superseded, overridden_hints

FRAGMENTS = [
    ("builtin:base", "CONFIG_64BIT=y\n"),
    ("builtin:platform-vmware", "# drivers\nCONFIG_SCSI=y\nCONFIG_VMXNET3=y\n"),
    ("kernel/small.config", "CONFIG_PRINTK=y\n# CONFIG_VMXNET3 is not set\n"),
]


def test_a_user_fragment_that_turns_off_a_platform_driver() -> None:
    problems = ["builtin:platform-vmware:3: asked for `CONFIG_VMXNET3=y` but Kconfig gave `# CONFIG_VMXNET3 is not set`"]
    (hint,) = overridden_hints(problems, FRAGMENTS)
    assert "kernel/small.config:2 sets `# CONFIG_VMXNET3 is not set`" in hint
    assert "`platform` needs it (platform-vmware" in hint


def test_problems_without_a_later_setting_get_no_hint() -> None:
    problems = [
        "builtin:platform-vmware:2: asked for `CONFIG_SCSI=y` but Kconfig gave `# CONFIG_SCSI is not set` (depends on BLOCK)",
        "kernel/small.config:1: CONFIG_NOPE does not exist in Linux 6.1.176",
    ]
    assert overridden_hints(problems, FRAGMENTS) == []


def test_two_user_fragments() -> None:
    fragments = [("a.config", "CONFIG_X=y\n"), ("b.config", "CONFIG_X=n\n")]
    (hint,) = overridden_hints(["a.config:1: asked for `CONFIG_X=y` but Kconfig gave `# CONFIG_X is not set`"], fragments)
    assert "b.config:1 sets `CONFIG_X=n`" in hint and "remove one of the two" in hint


def test_a_later_builtin_fragment_supersedes_an_earlier_line() -> None:
    net = b"CONFIG_NET=y\n# no NICs\n# CONFIG_ETHERNET is not set\n# CONFIG_PPS is not set\n"
    platform = b"CONFIG_ETHERNET=y\nCONFIG_E1000=y\n"
    (n, net_out), (p, platform_out) = drop_superseded([("net", net), ("platform-virtualbox", platform)])
    assert net_out == b"CONFIG_NET=y\n# no NICs\n# CONFIG_PPS is not set\n" and platform_out == platform


def test_fragments_that_agree_stay_byte_for_byte() -> None:
    fragments = [("base", b"CONFIG_A=y\n"), ("disk", b"CONFIG_A=y\nCONFIG_B=y\n")]
    assert drop_superseded(fragments) == fragments
