"""Unit tests for launcher.py: its pure parts, and its process control against a fake QEMU.

No real QEMU runs here; the fake is a small Python script that reads the `-append` value.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from unikernel_rules.qemu import launcher
from unikernel_rules.qemu.launcher import (
    Bundle,
    ConsoleState,
    HostInfo,
    LaunchError,
    LaunchOptions,
    choose_accel,
    explain_exit,
    kernel_cmdline,
    kernel_quote,
    parse_http_get,
    parse_port,
    qemu_argv,
    split_kernel_cmdline,
)

TCG_HOST = HostInfo(cpu_flags=frozenset({"fpu", "sse2"}), kvm_usable=True)
KVM_HOST = HostInfo(cpu_flags=frozenset({"fpu", "vmx"}), kvm_usable=True)


def make_bundle(manifest=None, cmdline="console=ttyS0 panic=-1 quiet", path="/b"):
    m = {
        "schema": 1,
        "memory_mib": 64,
        "cpus": 1,
        "ports": [{"host": 8080, "guest": 8080}],
        "files": {"kernel": {}, "initrd": {}, "cmdline": {}},
    }
    m.update(manifest or {})
    return Bundle(path=path, manifest=m, cmdline=cmdline)


def opt_value(argv, flag, nth=0):
    idx = [i for i, a in enumerate(argv) if a == flag]
    return argv[idx[nth] + 1]


def opt_values(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


# --- qemu_argv --------------------------------------------------------------------------------


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


# --- app arguments on the kernel command line -----------------------------------------------------


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


def test_microvm_mmio_params():
    assert launcher.microvm_mmio_params(1) == ["virtio_mmio.device=512@0xfeb00e00:12"]
    with pytest.raises(LaunchError):
        launcher.microvm_mmio_params(9)


# --- ports and http ------------------------------------------------------------------------------


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


# --- console scanning and exit codes -------------------------------------------------------------


def test_console_state_markers():
    st = ConsoleState(ready_re=launcher.re.compile(r"listening on (\d+)"))
    assert st.feed_line("[    0.5] booting\r\n") == []
    assert st.feed_line("app: listening on 8080\r") == ["ready"]
    assert st.feed_line("app: listening on 8081") == []  # only the first match counts
    assert st.ready_line == "app: listening on 8080"
    assert st.feed_line("UNIKERNEL_EXIT=3\r\n") == ["exit"]
    assert st.app_exit == 3 and st.panic_line is None


def test_console_state_exit_marker_shapes():
    st = ConsoleState()
    assert st.feed_line("XUNIKERNEL_EXIT=4") == []
    assert st.feed_line("UNIKERNEL_EXIT=4 and more") == []
    assert st.feed_line("[ 1.0] init: UNIKERNEL_EXIT=0  ") == ["exit"]
    assert st.app_exit == 0


def test_console_state_panic_and_memory():
    st = ConsoleState()
    st.feed_line("[    0.61] Initramfs unpacking failed: write error")
    events = st.feed_line("[    1.11] Kernel panic - not syncing: No working init found.  Try passing init=")
    assert events == ["panic"]
    assert st.panic_line == "Kernel panic - not syncing: No working init found.  Try passing init="
    assert st.initramfs_failed
    st.feed_line("[    1.12] Kernel panic - not syncing: second")
    assert "second" not in st.panic_line


def test_explain_exit_marker_wins():
    st = ConsoleState()
    st.feed_line("UNIKERNEL_EXIT=3")
    assert explain_exit(st, 7) == (3, None)
    assert explain_exit(st, 0) == (3, None)  # QEMU stopped by us after a grace period
    st.feed_line("UNIKERNEL_EXIT=300")
    assert explain_exit(st, None)[0] == 300 & 0xFF


def test_explain_exit_panic():
    st = ConsoleState()
    st.feed_line("[ 1.1] Kernel panic - not syncing: VFS: Unable to mount root fs")
    code, msg = explain_exit(st, 0, memory_mib=64)
    assert code == 1
    assert msg.startswith("unikernel: the guest kernel panicked (Kernel panic - not syncing: VFS")
    assert "the VM was stopped" in msg
    assert "no usable /init" in msg and "--memory 128" in msg
    st = ConsoleState()
    st.feed_line("[ 1.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000700")
    code, msg = explain_exit(st, 0, memory_mib=64)
    assert code == 1 and "--memory" not in msg


def test_explain_exit_panic_with_memory_hint():
    st = ConsoleState()
    st.feed_line("Initramfs unpacking failed: write error")
    st.feed_line("Kernel panic - not syncing: No working init found.")
    code, msg = explain_exit(st, 0, memory_mib=32, memory_needed_mib=40)
    assert code == 1
    assert "--memory 80" in msg and "32 MiB" in msg and "40 MiB" in msg
    st = ConsoleState()
    st.feed_line("Out of memory: Killed process 1 (init)")
    st.feed_line("Kernel panic - not syncing: Attempted to kill init!")
    assert "--memory 128" in explain_exit(st, 0, memory_mib=64)[1]


@pytest.mark.parametrize(
    "rc, code",
    [(7, 3), (3, 1), (255, 127), (0, 1), (1, 1), (-9, 1), (2, 1)],
)
def test_explain_exit_qemu_status(rc, code):
    got, msg = explain_exit(ConsoleState(), rc)
    assert got == code
    if rc > 1 and rc % 2 == 1:
        assert msg is None
    else:
        assert msg and msg.startswith("unikernel: ")


def test_explain_exit_silent_reset_hints_memory():
    code, msg = explain_exit(ConsoleState(), 0, memory_mib=16)
    assert code == 1 and "printed nothing" in msg and "16 MiB" in msg
    st = ConsoleState()
    st.feed_line("hello")
    assert "printed nothing" not in explain_exit(st, 0, memory_mib=16)[1]


def test_explain_exit_hostfwd_hint():
    stderr = "qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp:127.0.0.1:80-:80: Could not set up host forwarding rule 'tcp:127.0.0.1:80-:80'\n"
    code, msg = explain_exit(ConsoleState(), 1, stderr=stderr)
    assert code == 1 and "--port" in msg


# --- bundles and the command line ----------------------------------------------------------------


def write_bundle(d, manifest=None, cmdline="console=ttyS0 panic=-1 quiet\n", files=("kernel", "initrd")):
    d.mkdir(parents=True, exist_ok=True)
    for f in files:
        (d / f).write_bytes(b"x")
    (d / "cmdline").write_text(cmdline)
    m = {"schema": 1, "memory_mib": 64, "cpus": 1, "ports": [], "files": {f: {} for f in files}}
    m.update(manifest or {})
    (d / "manifest.json").write_text(json.dumps(m))
    return d


def test_load_bundle(tmp_path):
    b = launcher.load_bundle(str(write_bundle(tmp_path / "b")))
    assert b.cmdline == "console=ttyS0 panic=-1 quiet"
    assert b.kernel == str(tmp_path / "b" / "kernel") and b.rootfs is None


def test_load_bundle_errors(tmp_path):
    with pytest.raises(LaunchError, match="does not exist"):
        launcher.load_bundle(str(tmp_path / "nope"))
    write_bundle(tmp_path / "b", files=("kernel",))
    with pytest.raises(LaunchError, match="initrd"):
        launcher.load_bundle(str(tmp_path / "b"))
    write_bundle(tmp_path / "c", manifest={"files": {"rootfs.img": {}}})
    with pytest.raises(LaunchError, match="rootfs.img"):
        launcher.load_bundle(str(tmp_path / "c"))
    d = write_bundle(tmp_path / "d")
    (d / "manifest.json").write_text("{nope")
    with pytest.raises(LaunchError, match="manifest.json"):
        launcher.load_bundle(str(d))


def test_main_reports_bad_bundle(tmp_path, capsys):
    assert launcher.main(["--bundle", str(tmp_path / "nope")]) == 1
    assert "unikernel: the bundle directory" in capsys.readouterr().err


def test_main_rejects_bad_app_arg(tmp_path, capsys):
    b = write_bundle(tmp_path / "b")
    assert launcher.main(["--bundle", str(b), "--qemu", sys.executable, "--", 'a"b']) == 1
    assert "double quote" in capsys.readouterr().err


def test_main_rejects_bad_port(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        launcher.main(["--bundle", str(tmp_path), "--port", "x:y"])
    assert e.value.code == 2


# --- process control, against a fake QEMU ---------------------------------------------------------

FAKE_QEMU = textwrap.dedent(
    r'''
    import os, sys, time
    append = sys.argv[sys.argv.index("-append") + 1]
    args = append.split(" -- ", 1)[1].split() if " -- " in append else []
    pidfile = os.environ.get("FAKE_QEMU_PIDFILE")
    if pidfile:
        with open(pidfile, "w") as f:
            f.write(str(os.getpid()))
    def out(s):
        sys.stdout.write(s + "\r\n")
        sys.stdout.flush()
    mode = args[0] if args else "exit"
    out("[    0.1] Linux version 6.1 (fake)")
    if mode == "exit":
        out("UNIKERNEL_EXIT=" + args[1])
        sys.exit((int(args[1]) << 1) | 1)
    if mode == "status":  # no marker, just a QEMU status
        sys.exit(int(args[1]))
    if mode == "panic":
        out("[    0.6] Initramfs unpacking failed: write error")
        out("[    1.1] Kernel panic - not syncing: No working init found.")
        sys.exit(0)
    if mode == "hang-panic":  # panic=0: the kernel never reboots
        out("[    1.1] Kernel panic - not syncing: Attempted to kill init!")
        time.sleep(60)
    if mode == "ready":
        out("app: listening")
        time.sleep(60)
    if mode == "sleep":
        time.sleep(60)
    if mode == "stderr":
        sys.stderr.write("qemu-system-x86_64: -kernel /nope: could not open\n")
        sys.exit(1)
    '''
)


@pytest.fixture
def fake(tmp_path):
    qemu = tmp_path / "qemu-system-x86_64"
    qemu.write_text(f"#!{sys.executable}\n" + FAKE_QEMU)
    qemu.chmod(0o755)
    bundle = write_bundle(tmp_path / "bundle")
    return str(qemu), str(bundle)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_boot_exit_code_from_marker(fake):
    qemu, bundle = fake
    r = launcher.boot(bundle, qemu=qemu, app_args=["exit", "3"], quiet=True)
    assert (r.exit_code, r.app_exit, r.qemu_returncode, r.message) == (3, 3, 7, None)
    assert "UNIKERNEL_EXIT=3" in r.output and r.exit_wall_s is not None


def test_boot_odd_status_without_marker(fake):
    qemu, bundle = fake
    assert launcher.boot(bundle, qemu=qemu, app_args=["status", "9"], quiet=True).exit_code == 4


def test_boot_panic(fake):
    qemu, bundle = fake
    r = launcher.boot(bundle, qemu=qemu, app_args=["panic"], quiet=True)
    assert r.exit_code == 1 and r.panicked
    assert "panicked (Kernel panic - not syncing: No working init found.)" in r.message
    assert "--memory" in r.message


def test_boot_panic_without_reboot_is_stopped(fake):
    qemu, bundle = fake
    t = time.monotonic()
    r = launcher.boot(bundle, qemu=qemu, app_args=["hang-panic"], quiet=True, timeout=30)
    assert r.exit_code == 1 and r.panicked and not r.timed_out
    assert time.monotonic() - t < 10


def test_boot_qemu_error(fake):
    qemu, bundle = fake
    r = launcher.boot(bundle, qemu=qemu, app_args=["stderr"], quiet=True)
    assert r.exit_code == 1 and "could not open" in r.stderr
    assert "could not open" in r.message and "QEMU exited with status 1" in r.message


def test_boot_missing_qemu(fake):
    _, bundle = fake
    with pytest.raises(LaunchError, match="not found"):
        launcher.boot(bundle, qemu="/nonexistent/qemu")


def test_boot_timeout_kills_qemu(fake, tmp_path, monkeypatch):
    qemu, bundle = fake
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("FAKE_QEMU_PIDFILE", str(pidfile))
    r = launcher.boot(bundle, qemu=qemu, app_args=["sleep"], quiet=True, timeout=1.5)
    assert r.exit_code == 124 and r.timed_out and "timed out after 1.5 s" in r.message
    assert not alive(int(pidfile.read_text()))


def test_boot_stop_after_ready(fake, tmp_path, monkeypatch):
    qemu, bundle = fake
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("FAKE_QEMU_PIDFILE", str(pidfile))
    r = launcher.boot(
        bundle, qemu=qemu, app_args=["ready"], quiet=True, ready="listening", stop_after_ready=True, timeout=30
    )
    assert r.exit_code == 0 and r.stopped_after_ready
    assert r.ready_line == "app: listening" and r.ready_wall_s is not None and r.ready_wall_s < 10
    assert not alive(int(pidfile.read_text()))


def test_boot_stop_after_ready_but_app_exited_first(fake):
    qemu, bundle = fake
    r = launcher.boot(bundle, qemu=qemu, app_args=["exit", "0"], quiet=True, ready="never", stop_after_ready=True)
    assert r.exit_code == 1 and "before a console line matched" in r.message


def test_boot_log_file_and_echo(fake, tmp_path, capfd):
    qemu, bundle = fake
    log = tmp_path / "console.log"
    r = launcher.boot(bundle, qemu=qemu, app_args=["exit", "0"], log=str(log))
    assert r.exit_code == 0
    assert "UNIKERNEL_EXIT=0" in log.read_text()
    assert "UNIKERNEL_EXIT=0" in capfd.readouterr().out


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_launcher_signal_stops_qemu(fake, tmp_path, sig, code):
    qemu, bundle = fake
    pidfile = tmp_path / "pid"
    env = dict(os.environ, FAKE_QEMU_PIDFILE=str(pidfile))
    proc = subprocess.Popen(
        [sys.executable, launcher.__file__, "--bundle", bundle, "--qemu", qemu, "--", "sleep"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    qemu_pid = wait_for_pidfile(pidfile, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert b"stopped by signal" in err
    assert not alive(qemu_pid)


def test_qemu_dies_with_sigkilled_launcher(fake, tmp_path):
    qemu, bundle = fake
    pidfile = tmp_path / "pid"
    env = dict(os.environ, FAKE_QEMU_PIDFILE=str(pidfile))
    proc = subprocess.Popen(
        [sys.executable, launcher.__file__, "--bundle", bundle, "--qemu", qemu, "--quiet", "--", "sleep"],
        env=env, stdin=subprocess.DEVNULL,
    )
    qemu_pid = wait_for_pidfile(pidfile, proc)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while alive(qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(qemu_pid):  # clean up before failing
        os.kill(qemu_pid, signal.SIGKILL)
        pytest.fail("QEMU outlived a SIGKILLed launcher")


def wait_for_pidfile(pidfile, proc):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if pidfile.exists() and pidfile.read_text():
            return int(pidfile.read_text())
        assert proc.poll() is None, "the launcher exited early"
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the fake QEMU did not start")


def test_explain_exit_app_out_of_memory():
    # The JVM cannot reserve its heap: it exits 1; the message says to raise `memory`.
    st = ConsoleState()
    st.feed_line("Error occurred during initialization of VM")
    st.feed_line("Could not reserve enough space for object heap")
    st.feed_line("UNIKERNEL_EXIT=1")
    code, message = explain_exit(st, 7, memory_mib=32)
    assert code == 1
    assert message is not None and "out of memory" in message and "`memory` field" in message
    assert "memory=64" in message
    # A plain failure without memory trouble stays silent.
    st = ConsoleState()
    st.feed_line("UNIKERNEL_EXIT=1")
    assert explain_exit(st, 7, memory_mib=32) == (1, None)
