"""Booting: start QEMU, pump its streams, wait for the app's exit (or readiness, a timeout,
a signal), stop QEMU, and explain the outcome. QEMU never outlives boot()."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from .argv import SERIAL_FILE, STDERR_FILE, STDIN_FIFO, STDOUT_FILE, parse_http_get, qemu_argv
from .console import SERIAL_STDIO_LINE, Collector, ConsoleState, Pump, explain_exit, log_tail
from .disk import boot_format, firmware_failure, firmware_note, hint_options, plan_disk_boot, prepare_disk
from .host import find_qemu, free_port, http_get, pdeathsig_preexec, probe_host, restore_tty, save_tty, stop_process
from .options import (
    DEFAULT_MEMORY_MIB,
    BootResult,
    Bundle,
    LaunchError,
    LaunchOptions,
    console_mode,
    load_bundle,
    run_command,
    select_ports,
)
from .volumes import prepare_volumes

# Seconds: after `UNIKERNEL_EXIT=` we give QEMU this long to exit through isa-debug-exit;
# after a kernel panic this long to reboot (panic=-1 with -no-reboot makes QEMU exit).
EXIT_GRACE_S = 5.0
PANIC_GRACE_S = 2.0
# Seconds that --http-get keeps retrying after the ready line (or after boot without --ready).
HTTP_RETRY_S = 10.0
HTTP_RETRY_NO_READY_S = 60.0
# Lines of the log shown when the guest fails without the app reporting a status.
LOG_TAIL_LINES = 40

# What QEMU prints on stderr when we stop it; not shown when the launcher did the stopping.
_QEMU_SIGNAL_LINE_RE = re.compile(r"^qemu-system-\S*: terminating on signal \d+")


class _Signalled(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _info(options: LaunchOptions, msg: str) -> None:
    if options.verbose:
        print(f"unikernel: {msg}", file=sys.stderr, flush=True)


class _ConsoleFiles:
    """The console files of virtio mode (see argv.py): three regular files QEMU writes and
    the launcher follows, and the stdin FIFO, held open read-write so QEMU's open never blocks
    and the guest never sees the host side close."""

    def __init__(self, directory: str) -> None:
        self.fds: Dict[str, int] = {}
        for name in (STDOUT_FILE, STDERR_FILE, SERIAL_FILE):
            self.fds[name] = os.open(os.path.join(directory, name), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        stdin = os.path.join(directory, STDIN_FIFO)
        for suffix in (".in", ".out"):
            if not os.path.exists(stdin + suffix):
                os.mkfifo(stdin + suffix, 0o600)
        self.fds[STDIN_FIFO] = os.open(stdin + ".in", os.O_RDWR)
        self.qemu_gone = threading.Event()

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}


def _feed_stdin(dst_fd: int) -> None:
    """Copy our stdin to the app's (the guest's hvc2) until it ends; the guest sees no EOF."""
    while True:
        try:
            data = os.read(0, 65536)
            if not data:
                return
            os.write(dst_fd, data)
        except InterruptedError:
            continue
        except OSError:
            return


def boot(bundle: Union[str, "os.PathLike[str]", Bundle], options: Optional[LaunchOptions] = None, **kwargs: Any) -> BootResult:
    """Boot `bundle` (a directory or a Bundle) and wait until the VM is gone.

    Options are a LaunchOptions or its fields as keyword arguments, e.g.
    `boot("dist/app", ready=r"listening", stop_after_ready=True, http_get="8080/", quiet=True)`.
    Raises LaunchError for a bad bundle or bad options; everything that happens after QEMU
    starts is reported in the BootResult. QEMU never outlives this call.
    """
    if options is None:
        options = LaunchOptions(**kwargs)
    elif kwargs:
        options = dataclasses.replace(options, **kwargs)
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(os.fspath(bundle))
    if options.stop_after_ready and not options.ready:
        raise LaunchError("--stop-after-ready needs --ready REGEX")
    ready_re = None
    if options.ready:
        try:
            ready_re = re.compile(options.ready)
        except re.error as e:
            raise LaunchError(f"bad --ready regex {options.ready!r}: {e}") from e

    ports = [(h or free_port(), g) for h, g in select_ports(bundle, options)]
    options = dataclasses.replace(options, ports=ports, no_ports=False, qemu=find_qemu(options.qemu))
    http_target = parse_http_get(options.http_get, ports) if options.http_get else None
    mode = console_mode(bundle, options)
    temp_dir = None
    disk = boot_format(bundle, options) != "bundle"
    if (mode == "virtio" and not options.console_dir) or (disk and not options.work_dir):
        temp_dir = tempfile.mkdtemp(prefix="unikernel-run-")  # console files; a disk's run files
        options = dataclasses.replace(options, console_dir=options.console_dir or temp_dir,
                                      work_dir=options.work_dir or temp_dir)
    try:
        argv = qemu_argv(bundle, options)  # checks the options before volumes are created
        note = firmware_note(bundle, options)
        if note:
            print(f"unikernel: {note}", file=sys.stderr, flush=True)
        for line in [*prepare_volumes(bundle, options), *prepare_disk(plan_disk_boot(bundle, options))]:
            if "wipe it" in line:
                print(f"unikernel: warning: {line}", file=sys.stderr, flush=True)
            else:
                _info(options, line)
        return _boot(bundle, options, argv, mode, ready_re, ports, http_target)
    finally:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _boot(
    bundle: Bundle,
    options: LaunchOptions,
    argv: List[str],
    mode: str,
    ready_re: Optional["re.Pattern[str]"],
    ports: List[Tuple[int, int]],
    http_target: Optional[Tuple[int, str]],
) -> BootResult:
    memory = options.memory_mib or int(bundle.manifest.get("memory_mib") or DEFAULT_MEMORY_MIB)
    memory_needed = bundle.manifest.get("memory_needed_mib")
    _info(options, "running " + " ".join(shlex.quote(a) for a in argv))

    state = ConsoleState(ready_re=ready_re)
    result = BootResult(exit_code=1, argv=argv, ports=ports, console=mode)
    wake = threading.Event()
    lock = threading.Lock()
    marks: Dict[str, float] = {}
    start = time.monotonic()
    collector = Collector()

    def feeder(from_log: bool) -> Any:
        def on_line(line: str) -> None:
            with lock:
                for event in state.feed_line(line, from_log=from_log):
                    marks.setdefault(event, time.monotonic())
            wake.set()

        return on_line

    if options.accel == "kvm":
        host = probe_host()
        if not (host.kvm_usable and {"vmx", "svm"} & set(host.cpu_flags)):
            print("unikernel: warning: --accel kvm was asked for, but this CPU shows no vmx/svm "
                  "flag or /dev/kvm does not open read-write; the VM may fail or hang",
                  file=sys.stderr, flush=True)
    try:
        if options.log:
            os.makedirs(os.path.dirname(os.path.abspath(options.log)), exist_ok=True)
        log_file = open(options.log, "wb") if options.log else None
    except OSError as e:
        raise LaunchError(f"cannot write the log file {options.log!r}: {e}") from e
    files = _ConsoleFiles(options.console_dir) if mode == "virtio" and options.console_dir else None
    saved_tty = save_tty() if options.interactive else None
    old_handlers: Dict[int, Any] = {}
    proc: Optional["subprocess.Popen[bytes]"] = None
    pumps: Dict[str, Pump] = {}
    stopping: List[bool] = []
    fired: List[int] = []  # signals received; once non-empty, the handler no longer raises

    def stop() -> None:
        if proc is not None and proc.poll() is None:
            stopping.append(True)
            stop_process(proc)

    def join_pumps() -> None:
        if files is not None and (proc is None or proc.poll() is not None):
            files.qemu_gone.set()  # QEMU is gone: the followers read their files to the end
        for p in pumps.values():
            p.join(timeout=5)

    try:
        if options.handle_signals and threading.current_thread() is threading.main_thread():

            def handler(signum: int, frame: Any) -> None:
                # Raise once; a second signal while QEMU is being stopped must not abort that.
                if not fired:
                    fired.append(signum)
                    raise _Signalled(signum)

            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                old_handlers[sig] = signal.signal(sig, handler)
        try:
            proc = subprocess.Popen(
                argv,
                # Serial mode: QEMU's stdio is the console. Virtio mode: the launcher feeds the
                # app's stdin itself (hvc2), QEMU never touches the terminal.
                stdin=None if options.interactive and files is None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=pdeathsig_preexec(),
                close_fds=True,
            )
        except OSError as e:
            result.message = f"unikernel: could not start QEMU ({argv[0]}): {e}"
            return result
        start = time.monotonic()
        assert proc.stdout is not None and proc.stderr is not None
        out_sink = None if options.quiet else sys.stdout
        err_sink = None if options.quiet else sys.stderr
        if files is None:  # serial: one console for everything, on our stdout
            pumps["log"] = Pump(proc.stdout.fileno(), out_sink, log_file, feeder(True), wake, collector=collector)
        else:
            gone = files.qemu_gone
            pumps["stdout"] = Pump(files.fds[STDOUT_FILE], out_sink, None, feeder(False), wake,
                                   collector=collector, until=gone)
            pumps["stderr"] = Pump(files.fds[STDERR_FILE], err_sink, None, feeder(False), wake,
                                   collector=collector, until=gone)
            log_feed = feeder(True)

            def on_log_line(line: str) -> None:
                if SERIAL_STDIO_LINE in line:  # no virtio console in the guest: show the app's output
                    pumps["log"].follow(out_sink)
                log_feed(line)

            pumps["log"] = Pump(files.fds[SERIAL_FILE], err_sink if options.show_log else None, log_file,
                                on_log_line, wake, collector=collector, until=gone)
            if options.interactive:
                threading.Thread(target=_feed_stdin, args=(files.fds[STDIN_FIFO],), daemon=True).start()
        pumps["qemu"] = Pump(
            proc.stderr.fileno(), err_sink, None, None, wake,
            hide_line=lambda line: bool(stopping) and _QEMU_SIGNAL_LINE_RE.match(line) is not None,
        )
        for p in pumps.values():
            p.start()
        _wait_for_vm(proc, stop, options, state, lock, marks, wake, start, http_target, result)
        join_pumps()
    except _Signalled as e:
        result.signal = e.signum
        if proc is not None:
            stop()
    finally:
        fired.append(0)  # a signal now (QEMU is already gone or going) must not abort cleanup
        if proc is not None:
            stop()
            join_pumps()
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()
        if files is not None:
            files.qemu_gone.set()
            for p in pumps.values():
                p.join(timeout=5)
            files.close()
        for sig, old in old_handlers.items():
            signal.signal(sig, old)
        restore_tty(saved_tty)
        if log_file is not None:
            log_file.close()

    result.wall_s = time.monotonic() - start
    result.qemu_returncode = proc.returncode
    result.output = collector.text()
    result.console_log = pumps["log"].text() if "log" in pumps else ""
    result.app_stdout = pumps["stdout"].text() if "stdout" in pumps else ""
    result.app_stderr = pumps["stderr"].text() if "stderr" in pumps else ""
    result.stderr = pumps["qemu"].text() if "qemu" in pumps else ""
    result.panicked = state.panic_line is not None
    result.panic_line = state.panic_line
    result.app_exit = state.app_exit
    result.ready_line = state.ready_line
    if "ready" in marks:
        result.ready_wall_s = marks["ready"] - start
    if "exit" in marks:
        result.exit_wall_s = marks["exit"] - start
    _explain(bundle, options, state, result, memory, memory_needed, http_target)
    return result


def _explain(
    bundle: Bundle,
    options: LaunchOptions,
    state: ConsoleState,
    result: BootResult,
    memory: int,
    memory_needed: Optional[int],
    http_target: Optional[Tuple[int, str]],
) -> None:
    """Set result.exit_code, .message and .log_excerpt from what happened."""

    def run_hint(*run_options: str) -> str:
        return run_command(bundle, options, *hint_options(bundle, options, run_options))

    if result.signal is not None:
        result.exit_code = 128 + result.signal
        result.message = f"unikernel: stopped by signal {result.signal}; the VM was stopped"
        return
    if result.timed_out:
        result.exit_code = 124
        result.message = (
            f"unikernel: timed out after {options.timeout:g} s (the run timeout) and the VM was "
            "stopped: the app did not exit in that time (a guest that prints nothing and never "
            "exits is stuck: see the log above). A longer limit: "
            f"`{run_hint(f'--unikernel-run-timeout={int(max(options.timeout or 0, 1) * 4)}')}`; "
            f"none: `{run_hint('--unikernel-run-timeout=0')}`."
        )
        result.log_excerpt = _excerpt(bundle, result, options, whole=True)
        return
    if result.stopped_after_ready:
        ok = http_target is None or (result.http_status is not None and 200 <= result.http_status < 400)
        result.exit_code = 0 if ok else 1
        if not ok:
            result.message = _http_failure(http_target, result)
        return
    failed = firmware_failure(bundle, options, state, result.qemu_returncode)
    if failed:
        result.exit_code, result.message = 1, failed
        return
    code, message = explain_exit(state, result.qemu_returncode, memory, memory_needed, result.stderr, run_hint)
    if options.stop_after_ready and state.ready_line is None and (state.app_exit is not None or not message):
        if code == 0:
            code = 1
        why = f"; {message[len('unikernel: '):]}" if message and state.out_of_memory else ""
        message = (
            f"unikernel: the app exited (status {state.app_exit if state.app_exit is not None else code}) "
            f"before a console line matched --ready {options.ready!r}{why}"
        )
    result.exit_code, result.message = code, message
    if options.quiet and message and result.stderr.strip() and state.app_exit is None:
        result.message = result.stderr.rstrip() + "\n" + message
    if code != 0:
        result.log_excerpt = _excerpt(bundle, result, options, whole=state.app_exit is None, state=state)


def _excerpt(
    bundle: Bundle, result: BootResult, options: LaunchOptions, whole: bool, state: Optional[ConsoleState] = None
) -> str:
    """What of the log to show after a failure: its tail when the guest failed without the app
    reporting a status; init's own messages when the app failed. Nothing when the log was
    already on the terminal (serial console, --show-log)."""
    if result.console != "virtio" or options.show_log:
        return ""
    where = f" (the whole log: {options.log})" if options.log else ""
    if whole:
        tail = log_tail(result.console_log, LOG_TAIL_LINES)
        if tail:
            return f"unikernel: the last lines of the guest's log (kernel and init){where}:\n{tail}"
        show = hint_options(bundle, options, ("--unikernel-run-show-log", "--unikernel-run-kernel-args=loglevel=7"))
        return (
            "unikernel: the guest's log (kernel and init) is empty: the kernel is `quiet` and init "
            f"had nothing to say. To see every kernel message: `{run_command(bundle, options, *show)}`."
        )
    if state is not None and state.init_messages:
        return f"unikernel: the guest's init said{where}:\n" + "\n".join(state.init_messages)
    return ""


def _http_failure(http_target: Optional[Tuple[int, str]], result: BootResult) -> str:
    port, path = http_target or (0, "/")
    got = f"status {result.http_status}" if result.http_status is not None else (result.http_error or "no answer")
    return f"unikernel: the HTTP check GET http://127.0.0.1:{port}{path} failed ({got})"


def _wait_for_vm(
    proc: "subprocess.Popen[bytes]",
    stop: Any,
    options: LaunchOptions,
    state: ConsoleState,
    lock: threading.Lock,
    marks: Dict[str, float],
    wake: threading.Event,
    start: float,
    http_target: Optional[Tuple[int, str]],
    result: BootResult,
) -> None:
    deadline = start + options.timeout if options.timeout else None
    http_done = http_target is None
    http_thread: Optional[threading.Thread] = None
    while proc.poll() is None:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            result.timed_out = True
            stop()
            return
        with lock:
            ready_at = marks.get("ready")
            exit_at = marks.get("exit")
            panic_at = marks.get("panic")
        if exit_at is not None and now - exit_at > EXIT_GRACE_S:
            _info(options, f"the app reported its exit status but QEMU is still running after {EXIT_GRACE_S:g} s; stopping it")
            stop()
            return
        if panic_at is not None and exit_at is None and now - panic_at > PANIC_GRACE_S:
            stop()
            return
        if options.stop_after_ready and ready_at is not None and exit_at is None and panic_at is None:
            _info(options, f"ready after {ready_at - start:.3f} s: {state.ready_line}")
            if http_target is not None:
                _http_check(proc, http_target, HTTP_RETRY_S, deadline, result, options)
                if result.timed_out:
                    stop()
                    return
            if proc.poll() is None:
                result.stopped_after_ready = True
                stop()
                return
        if not http_done and not options.stop_after_ready and (ready_at is not None or not options.ready):
            http_done = True
            window = HTTP_RETRY_S if options.ready else HTTP_RETRY_NO_READY_S
            http_thread = threading.Thread(
                target=_http_check, args=(proc, http_target, window, deadline, result, options, True), daemon=True
            )
            http_thread.start()
        wake.wait(0.05)
        wake.clear()
    if http_thread is not None:
        http_thread.join(timeout=1)


def _http_check(
    proc: "subprocess.Popen[bytes]",
    target: Tuple[int, str],
    window_s: float,
    deadline: Optional[float],
    result: BootResult,
    options: LaunchOptions,
    report: bool = False,
) -> None:
    """GET the target until it answers (any HTTP status) or `window_s` passes."""
    port, path = target
    give_up = time.monotonic() + window_s
    if deadline is not None:
        give_up = min(give_up, deadline)
    while proc.poll() is None:
        left = give_up - time.monotonic()
        if left <= 0:
            break
        try:
            result.http_status, result.http_body = http_get(port, path, timeout=max(0.1, min(5.0, left)))
            result.http_error = None
            _info(options, f"GET http://127.0.0.1:{port}{path} -> {result.http_status}")
            break
        except (OSError, ValueError) as e:  # refused, reset, remote closed, timeout, bad response
            result.http_error = f"{type(e).__name__}: {e}"
            time.sleep(0.1)
    else:
        return
    if deadline is not None and time.monotonic() >= deadline and result.http_status is None:
        result.timed_out = True
    if report and not (result.http_status is not None and 200 <= result.http_status < 400):
        print(_http_failure(target, result), file=sys.stderr, flush=True)
