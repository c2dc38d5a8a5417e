"""Unit tests of boot() and the CLI against a fake QEMU (a small Python script), and of load_bundle()."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from unikernel_rules.qemu import launcher
from unikernel_rules.qemu.launcher import (
    LaunchError,
)


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


# What the fake app writes: no trailing newline, no CR, more than a pipe holds.
APP_STDOUT = b"".join(b"line %d\n" % i for i in range(20000)) + b"no newline"
APP_STDERR = b"oops\n\x00\xff bytes"

FAKE_QEMU = textwrap.dedent(
    r'''
    import os, sys, time
    APP_STDOUT = b"".join(b"line %d\n" % i for i in range(20000)) + b"no newline"
    APP_STDERR = b"oops\n\x00\xff bytes"
    append = sys.argv[sys.argv.index("-append") + 1]
    args = append.split(" -- ", 1)[1].split() if " -- " in append else []
    pidfile = os.environ.get("FAKE_QEMU_PIDFILE")
    if pidfile:
        with open(pidfile, "w") as f:
            f.write(str(os.getpid()))
    def chardev_path(name):
        for i, a in enumerate(sys.argv):
            if a == "-chardev" and sys.argv[i + 1].startswith("file,id=" + name + ","):
                return sys.argv[i + 1].split("path=", 1)[1].replace(",,", ",")
    def opened(name):  # like QEMU: O_TRUNC the file, append to it unbuffered
        path = chardev_path(name)
        return open(path, "wb", buffering=0) if path else sys.stdout.buffer
    log, app_out, app_err = opened("con"), opened("app_out"), opened("app_err")  # virtio: all apart
    def out(s):
        log.write((s + "\r\n").encode())
        log.flush()
    def app(data, stream=app_out):
        stream.write(data)
        stream.flush()
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
    if mode == "app":  # the app's own bytes on hvc0/hvc1, a fake marker among them
        app(APP_STDOUT)
        app(APP_STDERR, app_err)
        app(b"UNIKERNEL_EXIT=0\n")
        out("unikernel-init: a message from init")
        out("UNIKERNEL_EXIT=" + args[1])
        sys.exit((int(args[1]) << 1) | 1)
    if mode == "nohvc":  # a guest kernel without virtio consoles: init keeps the serial console
        out("unikernel-init: no virtio console for the app (/dev/hvc0): its output stays on the serial console")
        out("app on the serial console")
        out("UNIKERNEL_EXIT=0")
        sys.exit(1)
    if mode == "echo":  # the app copies one line of its stdin (the guest's hvc2) to stdout
        for i, a in enumerate(sys.argv):
            if a == "-chardev" and sys.argv[i + 1].startswith("pipe,id=app_in,"):
                stdin = open(sys.argv[i + 1].split("path=", 1)[1] + ".in", "rb", buffering=0)
        app(b"got: " + stdin.readline())
        out("UNIKERNEL_EXIT=0")
        sys.exit(1)
    if mode == "silent":  # prints nothing and never exits
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
    assert "--unikernel-run-memory=128" in r.message


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
        [sys.executable, launcher.LAUNCHER_DIR, "--bundle", bundle, "--qemu", qemu, "--", "sleep"],
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
        [sys.executable, launcher.LAUNCHER_DIR, "--bundle", bundle, "--qemu", qemu, "--quiet", "--", "sleep"],
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


# --- the virtio console: the app's bytes apart from the log -------------------------------------


@pytest.fixture
def fake_virtio(tmp_path):
    qemu = tmp_path / "qemu-system-x86_64"
    qemu.write_text(f"#!{sys.executable}\n" + FAKE_QEMU)
    qemu.chmod(0o755)
    bundle = write_bundle(tmp_path / "bundle", {"network": "isolated", "target": "a/b:img"})
    return str(qemu), str(bundle)


def test_virtio_console_app_bytes_unchanged(fake_virtio, tmp_path):
    qemu, bundle = fake_virtio
    log = tmp_path / "logs" / "img.log"
    proc = subprocess.run(
        [sys.executable, launcher.LAUNCHER_DIR, "--bundle", bundle, "--qemu", qemu, "--log", str(log), "--", "app", "5"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    # Exactly the app's bytes on stdout: no CR, no kernel log, no exit marker of init's.
    assert proc.stdout == APP_STDOUT + b"UNIKERNEL_EXIT=0\n"
    # The status is init's (from the log), not the one the app printed.
    assert proc.returncode == 5
    assert proc.stderr.startswith(APP_STDERR)
    # After a failure, init's own messages follow on stderr, with where the whole log is.
    assert b"unikernel: the guest's init said (the whole log: " + str(log).encode() in proc.stderr
    assert b"unikernel-init: a message from init" in proc.stderr
    assert b"Linux version" not in proc.stdout + proc.stderr
    assert "Linux version 6.1 (fake)" in log.read_text() and "UNIKERNEL_EXIT=5" in log.read_text()


def test_virtio_console_boot_result(fake_virtio):
    qemu, bundle = fake_virtio
    r = launcher.boot(bundle, qemu=qemu, app_args=["app", "0"], quiet=True)
    assert r.console == "virtio" and r.exit_code == 0 and r.app_exit == 0
    assert r.app_stdout.encode("utf-8", "replace").startswith(b"line 0\nline 1\n")
    assert "Linux version" in r.console_log and "Linux version" not in r.app_stdout
    assert "oops" in r.app_stderr
    # `output` has everything (benchmarks and tests search it for readiness lines).
    assert "line 19999" in r.output and "Linux version" in r.output and "oops" in r.output


def test_virtio_console_show_log(fake_virtio):
    qemu, bundle = fake_virtio
    proc = subprocess.run(
        [sys.executable, launcher.LAUNCHER_DIR, "--bundle", bundle, "--qemu", qemu, "--show-log", "--", "app", "0"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    assert proc.returncode == 0
    assert b"Linux version 6.1 (fake)" in proc.stderr and b"Linux version" not in proc.stdout


def test_timeout_on_a_silent_guest_shows_the_log(fake_virtio):
    qemu, bundle = fake_virtio
    proc = subprocess.run(
        [sys.executable, launcher.LAUNCHER_DIR, "--bundle", bundle, "--qemu", qemu, "--timeout", "1.5", "--", "silent"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    assert proc.returncode == 124 and proc.stdout == b""
    err = proc.stderr.decode()
    assert "the last lines of the guest's log" in err and "Linux version 6.1 (fake)" in err
    assert "timed out after 1.5 s" in err
    assert "`pants run --unikernel-run-timeout=6 a/b:img`" in err


def test_serial_console_forced_for_a_new_bundle(fake_virtio):
    qemu, bundle = fake_virtio
    r = launcher.boot(bundle, qemu=qemu, app_args=["exit", "0"], quiet=True, console="serial")
    assert r.console == "serial" and "Linux version" in r.output and r.exit_code == 0


def test_run_command_names_the_image_in_hints(fake):
    qemu, bundle = fake
    r = launcher.boot(bundle, qemu=qemu, app_args=["panic"], quiet=True, run_command="pants run x:img")
    assert "`pants run --unikernel-run-memory=128 x:img`" in r.message


def test_network_none_with_ports_fails_before_boot(tmp_path, fake):
    qemu, _ = fake
    bundle = write_bundle(tmp_path / "nonet", {"network": "none", "ports": [{"host": 8080, "guest": 8080}], "target": "a:b"})
    with pytest.raises(LaunchError, match="cannot be forwarded"):
        launcher.boot(str(bundle), qemu=qemu, quiet=True)


def test_guest_without_virtio_console_still_shows_the_app_output(fake_virtio):
    qemu, bundle = fake_virtio
    proc = subprocess.run(
        [sys.executable, launcher.LAUNCHER_DIR, "--bundle", bundle, "--qemu", qemu, "--", "nohvc"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stdout == b"app on the serial console\r\n"
    assert b"Linux version" not in proc.stdout  # what came before init's line stays in the log


def test_virtio_console_feeds_stdin(fake_virtio):
    qemu, bundle = fake_virtio
    proc = subprocess.run(
        [sys.executable, launcher.LAUNCHER_DIR, "--bundle", bundle, "--qemu", qemu, "--", "echo"],
        input=b"typed line\n", capture_output=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"got: typed line\n"
