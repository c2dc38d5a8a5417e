"""Unit tests of argv.py: the QEMU command line (devices, console, network, disks, volumes)."""

from __future__ import annotations

import pytest

from unikernel_rules.qemu import launcher
from unikernel_rules.qemu.launcher import (
    Bundle,
    HostInfo,
    LaunchError,
    LaunchOptions,
    choose_accel,
    console_mode,
    qemu_argv,
)
from unikernel_rules.qemu.launcher_testutil import KVM_HOST, TCG_HOST, make_bundle, opt_value, opt_values


def test_qemu_argv_default_pc_tcg():
    argv = qemu_argv(make_bundle(), LaunchOptions(qemu="/usr/bin/qemu-system-x86_64"), TCG_HOST)
    assert argv == [
        "/usr/bin/qemu-system-x86_64",
        "-M", "pc",
        "-accel", "tcg",
        "-cpu", "max",
        "-m", "64",
        "-smp", "1",
        "-nodefaults",
        "-no-user-config",
        "-display", "none",
        "-no-reboot",
        "-kernel", "/b/kernel",
        "-initrd", "/b/initrd",
        "-append", "console=ttyS0 panic=-1 quiet",
        "-chardev", "stdio,id=con,signal=on",
        "-serial", "chardev:con",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:8080",
        "-device", "virtio-net-pci,netdev=net0",
        "-device", "virtio-rng-pci",
    ]


def test_qemu_argv_memory_cpus_from_options_and_defaults():
    argv = qemu_argv(make_bundle(), LaunchOptions(memory_mib=256, cpus=2), TCG_HOST)
    assert opt_value(argv, "-m") == "256" and opt_value(argv, "-smp") == "2"
    bare = Bundle(path="/b", manifest={}, cmdline="console=ttyS0")
    argv = qemu_argv(bare, LaunchOptions(), TCG_HOST)
    assert opt_value(argv, "-m") == str(launcher.DEFAULT_MEMORY_MIB)
    assert opt_value(argv, "-smp") == "1"
    assert argv[0] == "qemu-system-x86_64"
    assert opt_value(argv, "-netdev") == "user,id=net0"


def test_qemu_argv_ports_replace_manifest():
    opts = LaunchOptions(ports=[(18080, 8080), (2222, 22)])
    netdev = opt_value(qemu_argv(make_bundle(), opts, TCG_HOST), "-netdev")
    assert netdev == "user,id=net0,hostfwd=tcp:127.0.0.1:18080-:8080,hostfwd=tcp:127.0.0.1:2222-:22"


def test_qemu_argv_no_ports():
    argv = qemu_argv(make_bundle(), LaunchOptions(no_ports=True, ports=[(1, 2)]), TCG_HOST)
    assert opt_value(argv, "-netdev") == "user,id=net0"
    # The NIC is still there: the app may make outgoing connections.
    assert "virtio-net-pci,netdev=net0" in argv


def test_qemu_argv_unresolved_host_port_rejected():
    with pytest.raises(LaunchError):
        qemu_argv(make_bundle(), LaunchOptions(ports=[(0, 8080)]), TCG_HOST)


def test_qemu_argv_icount_forces_tcg():
    argv = qemu_argv(make_bundle(), LaunchOptions(icount=True), KVM_HOST)
    assert opt_value(argv, "-accel") == "tcg"
    # Deterministic virtual time: no RDRAND/RDSEED, a guest clock that ignores the host's.
    assert opt_value(argv, "-cpu") == "max,rdrand=off,rdseed=off"
    assert opt_value(argv, "-icount") == "shift=0,sleep=off"
    assert opt_value(argv, "-rtc") == "base=2000-01-01T00:00:00,clock=vm"
    with pytest.raises(LaunchError, match="TCG"):
        qemu_argv(make_bundle(), LaunchOptions(icount=True, accel="kvm"), KVM_HOST)


def test_qemu_argv_without_icount_has_none():
    assert "-icount" not in qemu_argv(make_bundle(), LaunchOptions(), TCG_HOST)


@pytest.mark.parametrize(
    "requested, flags, kvm_usable, expected",
    [
        ("auto", {"vmx"}, True, "kvm"),
        ("auto", {"svm"}, True, "kvm"),
        ("auto", {"vmx"}, False, "tcg"),  # /dev/kvm missing or not read-write
        ("auto", set(), True, "tcg"),  # a /dev/kvm without hardware virtualization (fake)
        ("auto", set(), False, "tcg"),
        ("tcg", {"vmx"}, True, "tcg"),
        ("kvm", set(), False, "kvm"),  # asked for explicitly: boot() warns, QEMU decides
    ],
)
def test_choose_accel(requested, flags, kvm_usable, expected):
    host = HostInfo(cpu_flags=frozenset(flags), kvm_usable=kvm_usable)
    assert choose_accel(requested, False, host) == expected
    argv = qemu_argv(make_bundle(), LaunchOptions(accel=requested), host)
    assert opt_value(argv, "-accel") == expected
    assert opt_value(argv, "-cpu") == ("host" if expected == "kvm" else "max")


def test_choose_accel_rejects_unknown():
    with pytest.raises(LaunchError):
        choose_accel("hvf", False, TCG_HOST)


def test_probe_host_reads_flags_and_kvm(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu vme svm sse2\n\nprocessor\t: 1\n")
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    host = launcher.probe_host(str(cpuinfo), str(kvm))
    assert "svm" in host.cpu_flags and host.kvm_usable
    host = launcher.probe_host(str(cpuinfo), str(tmp_path / "missing"))
    assert not host.kvm_usable
    assert launcher.probe_host(str(tmp_path / "nope"), str(kvm)).cpu_flags == frozenset()


def test_qemu_argv_rootfs_attached_read_only():
    bundle = make_bundle({"files": {"kernel": {}, "initrd": {}, "rootfs.img": {}}}, path="/x,y")
    argv = qemu_argv(bundle, LaunchOptions(), TCG_HOST)
    drives = opt_values(argv, "-drive")
    assert drives == ["file=/x,,y/rootfs.img,if=none,id=root,format=raw,readonly=on"]
    assert "virtio-blk-pci,drive=root" in opt_values(argv, "-device")


def test_qemu_argv_no_rootfs_when_not_in_manifest():
    assert "-drive" not in qemu_argv(make_bundle(), LaunchOptions(), TCG_HOST)


def test_qemu_argv_microvm_uses_mmio_devices():
    bundle = make_bundle({"files": {"rootfs.img": {}}})
    argv = qemu_argv(bundle, LaunchOptions(machine="microvm", app_args=["serve", "a b"]), TCG_HOST)
    devices = opt_values(argv, "-device")
    assert devices == [
        launcher.ISA_DEBUG_EXIT_DEVICE,
        "virtio-net-device,netdev=net0",
        "virtio-rng-device",
        "virtio-blk-device,drive=root",
    ]
    assert opt_value(argv, "-M") == "microvm,acpi=off,auto-kernel-cmdline=off"
    # QEMU would append these after ` -- `, where init would get them as arguments, so the
    # launcher puts them before it itself: transports 7, 6, 5 (filled from the last down).
    assert opt_value(argv, "-append") == (
        "console=ttyS0 panic=-1 quiet"
        " virtio_mmio.device=512@0xfeb00e00:12"
        " virtio_mmio.device=512@0xfeb00c00:11"
        " virtio_mmio.device=512@0xfeb00a00:10"
        ' -- serve "a b"'
    )


def test_qemu_argv_microvm_respects_explicit_machine_options():
    argv = qemu_argv(make_bundle(), LaunchOptions(machine="microvm,acpi=off,auto-kernel-cmdline=on"), TCG_HOST)
    assert opt_value(argv, "-M") == "microvm,acpi=off,auto-kernel-cmdline=on"
    assert "virtio_mmio" not in opt_value(argv, "-append")


def test_qemu_argv_pc_has_no_mmio_params():
    argv = qemu_argv(make_bundle(), LaunchOptions(app_args=["x"]), TCG_HOST)
    assert opt_value(argv, "-append") == "console=ttyS0 panic=-1 quiet -- x"


def test_kernel_params_go_before_app_args():
    opts = LaunchOptions(kernel_params=["noapictimer", "loglevel=7"], app_args=["run"])
    argv = qemu_argv(make_bundle(), opts, TCG_HOST)
    assert opt_value(argv, "-append") == "console=ttyS0 panic=-1 quiet noapictimer loglevel=7 -- run"
    for bad in ["two words", 'q="x"', "--", ""]:
        with pytest.raises(LaunchError):
            qemu_argv(make_bundle(), LaunchOptions(kernel_params=[bad]), TCG_HOST)


def test_qemu_argv_q35_uses_pci_devices():
    argv = qemu_argv(make_bundle(), LaunchOptions(machine="q35"), TCG_HOST)
    assert opt_value(argv, "-M") == "q35"
    assert "virtio-net-pci,netdev=net0" in opt_values(argv, "-device")


def test_qemu_argv_extra_args_last():
    argv = qemu_argv(make_bundle(), LaunchOptions(extra_qemu_args=["-s"]), TCG_HOST)
    assert argv[-1] == "-s"


def test_microvm_mmio_params():
    assert launcher.microvm_mmio_params(1) == ["virtio_mmio.device=512@0xfeb00e00:12"]
    with pytest.raises(LaunchError):
        launcher.microvm_mmio_params(9)


# --- console devices --------------------------------------------------------------------------


def test_qemu_argv_virtio_console():
    argv = qemu_argv(make_bundle(), LaunchOptions(console="virtio", console_dir="/c,d"), TCG_HOST)
    assert opt_values(argv, "-chardev") == [
        "file,id=app_out,path=/c,,d/stdout",  # hvc0: the app's stdout
        "file,id=app_err,path=/c,,d/stderr",  # hvc1: the app's stderr
        "pipe,id=app_in,path=/c,,d/stdin",  # hvc2: the app's stdin
        "file,id=con,path=/c,,d/console",  # ttyS0: the kernel's and init's log
    ]
    assert opt_value(argv, "-serial") == "chardev:con"
    devices = opt_values(argv, "-device")
    assert devices[-4:] == [
        "virtio-serial-pci,id=vser,max_ports=3",
        "virtconsole,bus=vser.0,nr=0,chardev=app_out,name=stdout",
        "virtconsole,bus=vser.0,nr=1,chardev=app_err,name=stderr",
        "virtconsole,bus=vser.0,nr=2,chardev=app_in,name=stdin",
    ]
    with pytest.raises(LaunchError, match="console_dir"):
        qemu_argv(make_bundle(), LaunchOptions(console="virtio"), TCG_HOST)


def test_qemu_argv_serial_console_has_no_virtio_serial():
    argv = qemu_argv(make_bundle(), LaunchOptions(console="serial", console_dir="/c"), TCG_HOST)
    assert opt_values(argv, "-chardev") == ["stdio,id=con,signal=on"]
    assert not [d for d in opt_values(argv, "-device") if "virtconsole" in d or "virtio-serial" in d]


@pytest.mark.parametrize(
    "manifest, expected",
    [
        ({}, "serial"),  # an old bundle: its init only knows the serial console
        ({"network": "isolated"}, "virtio"),  # written by the builds whose init uses hvc0/hvc1
        ({"console": "virtio"}, "virtio"),
        ({"network": "isolated", "console": "serial"}, "serial"),
    ],
)
def test_console_mode_auto(manifest, expected):
    assert console_mode(make_bundle(manifest), LaunchOptions()) == expected
    assert console_mode(make_bundle(manifest), LaunchOptions(console="serial")) == "serial"
    with pytest.raises(LaunchError, match="unknown console mode"):
        console_mode(make_bundle(manifest), LaunchOptions(console="tty"))


def test_qemu_argv_microvm_virtio_console_takes_one_transport():
    argv = qemu_argv(make_bundle(), LaunchOptions(machine="microvm", console="virtio", console_dir="/c"), TCG_HOST)
    assert "virtio-serial-device,id=vser,max_ports=3" in opt_values(argv, "-device")
    # net, rng, serial: three transports (the two virtconsole ports sit on the serial device).
    assert opt_value(argv, "-append").count("virtio_mmio.device=") == 3


# --- network modes ------------------------------------------------------------------------------


PORTS_NIC = "user,id=net1,restrict=on,net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:8080-10.0.3.15:8080"


@pytest.mark.parametrize(
    "network, netdevs",
    [
        (None, ["user,id=net0,hostfwd=tcp:127.0.0.1:8080-:8080"]),  # no key: as before
        ("isolated", ["user,id=net0,restrict=on", PORTS_NIC]),
        ("outbound", ["user,id=net0", PORTS_NIC]),
        ("host", ["user,id=net0", PORTS_NIC]),
    ],
)
def test_qemu_argv_network_modes(network, netdevs):
    manifest = {} if network is None else {"network": network}
    argv = qemu_argv(make_bundle(manifest), LaunchOptions(console="serial"), TCG_HOST)
    assert opt_values(argv, "-netdev") == netdevs
    nics = [d for d in opt_values(argv, "-device") if d.startswith("virtio-net")]
    assert nics == [f"virtio-net-pci,netdev=net{i}" for i in range(len(netdevs))]


def test_qemu_argv_without_ports_has_no_ports_nic():
    argv = qemu_argv(make_bundle({"network": "outbound"}), LaunchOptions(console="serial", no_ports=True), TCG_HOST)
    assert opt_values(argv, "-netdev") == ["user,id=net0"]


def test_qemu_argv_network_option_overrides_manifest():
    argv = qemu_argv(make_bundle({"network": "host"}), LaunchOptions(network="isolated", console="serial"), TCG_HOST)
    assert ",restrict=on" in opt_value(argv, "-netdev")
    # init learns it too (it keeps or lifts its reject route to the host's loopback).
    assert "UNIKERNEL_NETWORK=isolated" in opt_value(argv, "-append")
    same = qemu_argv(make_bundle({"network": "host"}), LaunchOptions(network="host", console="serial"), TCG_HOST)
    assert "UNIKERNEL_NETWORK" not in opt_value(same, "-append")


def test_qemu_argv_network_none_has_no_device():
    bundle = make_bundle({"network": "none", "ports": []})
    argv = qemu_argv(bundle, LaunchOptions(console="serial"), TCG_HOST)
    assert "-netdev" not in argv
    assert not [d for d in opt_values(argv, "-device") if d.startswith("virtio-net")]


def test_qemu_argv_network_none_with_ports_is_an_error():
    bundle = make_bundle({"network": "none", "target": "a/b:img"})
    with pytest.raises(LaunchError, match=r"`pants run --unikernel-run-ports=none a/b:img`"):
        qemu_argv(bundle, LaunchOptions(console="serial"), TCG_HOST)
    # With the forwards dropped it boots.
    assert "-netdev" not in qemu_argv(bundle, LaunchOptions(console="serial", no_ports=True), TCG_HOST)


def test_qemu_argv_unknown_network_mode():
    with pytest.raises(LaunchError, match="unknown network mode 'lan'.*isolated, outbound, host, none"):
        qemu_argv(make_bundle({"network": "lan"}), LaunchOptions(), TCG_HOST)


# --- volumes and args ---------------------------------------------------------------------------

VOLUMES = [
    {"path": "/var/lib/app", "size_mib": 256, "serial": "vol0", "fstype": "ext4", "uid": 1000, "gid": 1000},
    {"path": "/data", "size_mib": 8, "serial": "vol1", "fstype": "ext4", "uid": 0, "gid": 0},
]


def test_qemu_argv_volumes_follow_the_rootfs():
    bundle = make_bundle({"files": {"kernel": {}, "initrd": {}, "rootfs.img": {}}, "volumes": VOLUMES})
    argv = qemu_argv(bundle, LaunchOptions(console="serial", volumes_dir="/state/a,b"), TCG_HOST)
    assert opt_values(argv, "-drive") == [
        "file=/b/rootfs.img,if=none,id=root,format=raw,readonly=on",
        "file=/state/a,,b/vol0.img,if=none,id=vol0,format=raw",
        "file=/state/a,,b/vol1.img,if=none,id=vol1,format=raw",
    ]
    blk = [d for d in opt_values(argv, "-device") if d.startswith("virtio-blk")]
    # rootfs.img stays /dev/vda; the guest finds each volume by its serial.
    assert blk == [
        "virtio-blk-pci,drive=root",
        "virtio-blk-pci,drive=vol0,serial=vol0",
        "virtio-blk-pci,drive=vol1,serial=vol1",
    ]


def test_qemu_argv_volumes_need_a_directory():
    with pytest.raises(LaunchError, match="--volumes-dir"):
        qemu_argv(make_bundle({"volumes": VOLUMES}), LaunchOptions(console="serial"), TCG_HOST)


@pytest.mark.parametrize(
    "bad",
    [
        {"path": "/a", "size_mib": 1},  # no serial
        {"path": "/a", "size_mib": 1, "serial": "has space"},
        {"path": "/a", "size_mib": 0, "serial": "vol0"},
        {"path": "/a", "size_mib": 1, "serial": "vol0", "fstype": "xfs"},
    ],
)
def test_qemu_argv_bad_volume_in_manifest(bad):
    with pytest.raises(LaunchError, match="volume"):
        qemu_argv(make_bundle({"volumes": [bad]}), LaunchOptions(console="serial", volumes_dir="/s"), TCG_HOST)


def test_qemu_argv_replace_args():
    argv = qemu_argv(make_bundle(), LaunchOptions(app_args=["--only"], replace_args=True), TCG_HOST)
    # A KEY=VALUE word the kernel does not know goes into init's environment.
    assert opt_value(argv, "-append") == "console=ttyS0 panic=-1 quiet UNIKERNEL_REPLACE_ARGS=1 -- --only"
    argv = qemu_argv(make_bundle(), LaunchOptions(app_args=["--more"]), TCG_HOST)
    assert "UNIKERNEL_REPLACE_ARGS" not in opt_value(argv, "-append")
