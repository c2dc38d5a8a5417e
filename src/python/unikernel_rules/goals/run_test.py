"""Unit tests of goals/run.py's launcher options from `[unikernel-run]` (no boot)."""

from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.testutil.option_util import create_subsystem

from unikernel_rules.goals.run import UnikernelRunOptionError, container_option_args, image_state_path, run_option_args
from unikernel_rules.subsystems.unikernel_run import UnikernelRunSubsystem

ADDRESS = Address("testprojects/c/hello_http", target_name="image")
DEFAULTS = dict(
    memory=None, cpus=None, ports=[], network=None, kernel_args=[], timeout=0, replace_args=False,
    show_log=False, state_dir=".unikernel", wipe_volumes=False, console="auto", format=None, firmware="auto",
    docker_host=None,
)


def args_for(**options):
    return run_option_args(ADDRESS, create_subsystem(UnikernelRunSubsystem, **{**DEFAULTS, **options}), "/repo")


def test_defaults_pass_only_the_state_paths_and_the_run_command():
    assert image_state_path(ADDRESS) == "testprojects/c/hello_http/image"
    assert args_for() == [
        "--console", "auto",
        "--log", "/repo/.unikernel/logs/testprojects/c/hello_http/image.log",
        "--volumes-dir", "/repo/.unikernel/volumes/testprojects/c/hello_http/image",
        "--run-command", "pants run testprojects/c/hello_http:image",
    ]


def test_overrides():
    args = args_for(
        memory=256, cpus=2, ports=["18080:8080", "2222"], network="isolated", kernel_args=["loglevel=7"],
        timeout=30, replace_args=True, show_log=True, wipe_volumes=True, state_dir="/state",
    )
    assert args[:16] == [
        "--memory", "256", "--cpus", "2", "--port", "18080:8080", "--port", "2222",
        "--network", "isolated", "--console", "auto", "--kernel-param=loglevel=7", "--timeout", "30",
        "--replace-args",
    ]
    assert "--show-log" in args and "--wipe-volumes" in args
    assert "/state/volumes/testprojects/c/hello_http/image" in args


def test_format_and_firmware():
    args = args_for(format="qcow2", firmware="uefi")
    assert args[2:6] == ["--format", "qcow2", "--firmware", "uefi"]
    # Defaults: the launcher picks the format (the bundle, else the first disk) and `auto` firmware.
    assert "--format" not in args_for() and "--firmware" not in args_for()


def test_ports_none_forwards_none():
    assert "--no-ports" in args_for(ports=["none"])


@pytest.mark.parametrize(
    "options, fragment",
    [
        (dict(memory=0), "--unikernel-run-memory=256"),
        (dict(ports=["80:x"]), "--unikernel-run-ports=18080:8080"),
        (dict(ports=["none", "80"]), "--unikernel-run-ports=none"),
        (dict(network="lan"), "isolated, outbound, host, none"),
        (dict(timeout=-1), "--unikernel-run-timeout=60"),
        (dict(console="tty"), "auto, virtio, serial"),
        (dict(format="iso"), "bundle, raw, qcow2, vmdk, vhd, gce"),
        (dict(firmware="efi"), "auto, bios, uefi"),
    ],
)
def test_bad_options_name_the_option_and_the_fix(options, fragment):
    with pytest.raises(UnikernelRunOptionError) as e:
        args_for(**options)
    option = next(iter(options))
    assert f"`[unikernel-run].{option}`" in str(e.value) and fragment in str(e.value)
    assert "pants run testprojects/c/hello_http:image" in str(e.value)


def container_args_for(**options):
    run = create_subsystem(UnikernelRunSubsystem, **{**DEFAULTS, "format": "container", **options})
    return container_option_args(ADDRESS, run, "/repo")


def test_container_options_keep_what_a_container_has():
    assert container_args_for() == ["--volumes-dir", "/repo/.unikernel/volumes/testprojects/c/hello_http/image"]
    args = container_args_for(
        memory=256, ports=["18080:8080"], network="host", timeout=5, replace_args=True, wipe_volumes=True,
        docker_host="unix:///tmp/d.sock",
    )
    assert args == [
        "--memory", "256", "--port", "18080:8080", "--network", "host", "--timeout", "5", "--replace-args",
        "--volumes-dir", "/repo/.unikernel/volumes/testprojects/c/hello_http/image", "--wipe-volumes",
        "--docker-host", "unix:///tmp/d.sock",
    ]


def test_container_refuses_the_options_of_a_vm():
    with pytest.raises(UnikernelRunOptionError) as e:
        container_args_for(kernel_args=["loglevel=7"], firmware="uefi")
    message = str(e.value)
    assert "`[unikernel-run].kernel_args`, `[unikernel-run].firmware`" in message
    assert "testprojects/c/hello_http:image" in message and "runs no VM" in message
