"""What the guest prints: copying QEMU's output streams, scanning the log for the exit marker,
panics and memory trouble, and explaining how a boot ended (with fix hints for `pants run`)."""

from __future__ import annotations

import dataclasses
import os
import re
import threading
from typing import IO, Any, Callable, List, Optional, Tuple

from .options import EXIT_MARKER

PANIC_MARKER = "Kernel panic - not syncing"
INITRAMFS_FAILED_MARKER = "Initramfs unpacking failed"
INIT_MESSAGE_PREFIX = "unikernel-init: "
# What init says on the serial console when the guest has no virtio console for the app (e.g. a
# kernel without CONFIG_VIRTIO_CONSOLE): the app's output follows on the serial console.
SERIAL_STDIO_LINE = "unikernel-init: no virtio console for the app"
OOM_MARKERS = (
    "Out of memory",  # the kernel's OOM killer
    "System is deadlocked on memory",  # the kernel's OOM panic (nothing left to kill)
    "out of memory",
    # The JVM, when it cannot reserve or commit its heap, metaspace or thread stacks:
    "There is insufficient memory for the Java Runtime Environment",
    "Could not reserve enough space",
    "java.lang.OutOfMemoryError",
    # CPython
    "MemoryError",
)

# OVMF (UEFI) on the serial console when no boot option of the disk loaded: it starts its
# built-in shell, which waits for a keyboard forever (see disk.firmware_failure()).
FIRMWARE_LINE_PREFIX = "BdsDxe: "
FIRMWARE_SHELL_MARKER = '"EFI Internal Shell"'

_EXIT_LINE_RE = re.compile(r"UNIKERNEL_EXIT=(-?\d+)\s*$")


def default_run_hint(*run_options: str) -> str:
    return " ".join(["pants run", *run_options, "<image target>"])


# A fix hint's command: run_hint("--unikernel-run-memory=256") -> "pants run --unikernel-run-memory=256 path:img".
RunHint = Callable[..., str]


@dataclasses.dataclass
class ConsoleState:
    """What the guest's output has told us so far (fed line by line)."""

    ready_re: Optional["re.Pattern[str]"] = None
    app_exit: Optional[int] = None
    exit_line: Optional[str] = None
    panic_line: Optional[str] = None
    initramfs_failed: bool = False
    out_of_memory: bool = False
    ready_line: Optional[str] = None
    lines: int = 0
    init_messages: List[str] = dataclasses.field(default_factory=list)
    firmware_lines: List[str] = dataclasses.field(default_factory=list)  # OVMF's `BdsDxe: ` lines
    firmware_failed: bool = False  # OVMF found nothing to boot (it started its shell)

    def feed_line(self, line: str, from_log: bool = True) -> List[str]:
        """Scan one complete line; return the events it raised: 'exit', 'panic' (also: the
        firmware found nothing to boot), 'ready'.

        `from_log=False` for the app's own output on the virtio consoles: only the serial
        console (the log) can carry the exit marker, a panic or init's messages, so an app
        printing `UNIKERNEL_EXIT=0` cannot fake its status."""
        events = []
        line = line.rstrip("\r\n")
        self.lines += 1
        if from_log:
            m = _EXIT_LINE_RE.search(line)
            if m and (m.start() == 0 or not line[m.start() - 1].isalnum()):
                self.app_exit = int(m.group(1))
                self.exit_line = line
                events.append("exit")
            if PANIC_MARKER in line and self.panic_line is None:
                self.panic_line = line[line.index(PANIC_MARKER) :].strip()
                events.append("panic")
            if INITRAMFS_FAILED_MARKER in line:
                self.initramfs_failed = True
            if INIT_MESSAGE_PREFIX in line:
                self.init_messages.append(line[line.index(INIT_MESSAGE_PREFIX) :])
            if FIRMWARE_LINE_PREFIX in line and self.app_exit is None:
                self.firmware_lines.append(line[line.index(FIRMWARE_LINE_PREFIX) :].strip())
                if FIRMWARE_SHELL_MARKER in line and not self.firmware_failed:
                    self.firmware_failed = True
                    events.append("panic")  # stopped like a panic, explained by disk.py
        if any(m in line for m in OOM_MARKERS):
            self.out_of_memory = True
        if self.ready_re is not None and self.ready_line is None and self.ready_re.search(line):
            self.ready_line = line
            events.append("ready")
        return events


def explain_exit(
    state: ConsoleState,
    qemu_returncode: Optional[int],
    memory_mib: Optional[int] = None,
    memory_needed_mib: Optional[int] = None,
    stderr: str = "",
    run_hint: RunHint = default_run_hint,
) -> Tuple[int, Optional[str]]:
    """Map what happened to (launcher exit code, message for stderr or None)."""
    if state.app_exit is not None:
        status = state.app_exit & 0xFF
        if status != 0 and state.out_of_memory:
            have = f"{memory_mib} MiB" if memory_mib else "its memory"
            more = 2 * (memory_mib or 64)
            return status, (
                f"unikernel: the app exited with status {status} after running out of memory "
                f"(see its output and the log above); the VM had {have}. Raise the `memory` field "
                f"of the unikernel_image target, e.g. `memory={more}`, or for one run: "
                f"`{run_hint(f'--unikernel-run-memory={more}')}`."
            )
        return status, None
    memory_hint = ""
    if state.initramfs_failed or state.out_of_memory:
        what = "unpacking the initramfs failed" if state.initramfs_failed else "the guest ran out of memory"
        have = f"{memory_mib} MiB" if memory_mib else "its memory"
        need = f" (the bundle estimates it needs {memory_needed_mib} MiB)" if memory_needed_mib else ""
        suggest = max(2 * (memory_mib or 64), (memory_needed_mib or 0) * 2)
        memory_hint = (
            f" Before that {what}, which usually means the VM is too small: it had {have}{need}."
            f" Try `{run_hint(f'--unikernel-run-memory={suggest}')}`, or raise the `memory` field "
            "of the unikernel_image target."
        )
    if state.panic_line is not None and not memory_hint and any(
        p in state.panic_line for p in ("Unable to mount root fs", "No working init found")
    ):
        have = f"it had {memory_mib} MiB; " if memory_mib else ""
        memory_hint = (
            " The kernel found no usable /init in the initramfs: either the initrd is broken, "
            f"or the VM has too little memory to unpack and start it ({have}try "
            f"`{run_hint(f'--unikernel-run-memory={2 * (memory_mib or 64)}')}`)."
        )
    if state.panic_line is not None:
        return 1, (
            f"unikernel: the guest kernel panicked ({state.panic_line}) and the VM was stopped; "
            f"the app did not report an exit status.{memory_hint} The log above shows "
            "what the kernel printed before the panic."
        )
    rc = qemu_returncode
    if rc is not None and rc > 1 and rc % 2 == 1:
        return rc >> 1, None
    if rc is not None and rc < 0:
        return 1, (
            f"unikernel: QEMU was killed by signal {-rc} before the app reported an exit status."
            f"{memory_hint}"
        )
    if rc == 0:
        if state.lines == 0 and not memory_hint:
            have = f" (it had {memory_mib} MiB)" if memory_mib else ""
            memory_hint = (
                " The guest printed nothing: the kernel failed before its console started, "
                f"which usually means the VM has too little memory{have}: try "
                f"`{run_hint(f'--unikernel-run-memory={2 * (memory_mib or 64)}')}`. To see more of "
                f"the boot: `{run_hint('--unikernel-run-show-log', '--unikernel-run-kernel-args=earlyprintk=ttyS0', '--unikernel-run-kernel-args=loglevel=7')}`."
            )
        return 1, (
            "unikernel: the VM stopped (the guest rebooted or powered off) without the app "
            f"reporting an exit status (no {EXIT_MARKER}<n> line in the log).{memory_hint}"
        )
    hint = ""
    if "Could not set up host forwarding rule" in stderr:
        hint = (
            " A host port is already in use: pick another, e.g. "
            f"`{run_hint('--unikernel-run-ports=18080:8080')}` (host 18080 to guest 8080), or "
            f"forward none: `{run_hint('--unikernel-run-ports=none')}`."
        )
    elif stderr.strip():
        hint = " QEMU's error message is above."
    return 1, (
        f"unikernel: QEMU exited with status {rc} without the app reporting an exit status; "
        f"QEMU could not start the VM or stopped with an error.{hint}{memory_hint}"
    )


class Collector:
    """Everything the guest printed, in arrival order, across the streams (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: List[bytes] = []

    def add(self, data: bytes) -> None:
        with self._lock:
            self._chunks.append(data)

    def text(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode("utf-8", "replace")


def _write(sink: IO[Any], data: bytes) -> bool:
    """Write bytes unchanged to a text stream's buffer (or decoded, if it has none); False if
    the stream is gone."""
    try:
        buf = getattr(sink, "buffer", None)
        if buf is not None:
            buf.write(data)
            buf.flush()
        else:
            sink.write(data.decode("utf-8", "replace"))
            sink.flush()
        return True
    except (OSError, ValueError):
        return False


class Pump(threading.Thread):
    """Copies one of QEMU's output streams to our stream, unchanged, and collects it; calls
    `on_line` with each complete line."""

    def __init__(
        self,
        fd: int,
        sink: Optional[IO[Any]],
        log: Optional[IO[bytes]],
        on_line: Optional[Any],
        wake: threading.Event,
        hide_line: Optional[Any] = None,
        collector: Optional[Collector] = None,
        until: Optional[threading.Event] = None,
    ) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        # Set: `fd` is a regular file that QEMU appends to; at its end, wait for more until
        # `until` is set (QEMU is gone), freeing what was read (see _FileFollower).
        self.follower = _FileFollower(fd, until) if until is not None else None
        self.sink = sink
        self.log = log
        self.on_line = on_line
        self.wake = wake
        # If set, output is copied a line at a time, without the lines for which it is true.
        self.hide_line = hide_line
        # Set by `follow()`: lines from then on also go to this stream (one copy: the log
        # pump's serial console becomes the app's output when the guest has no virtio console).
        self.follow_sink: Optional[IO[Any]] = None
        self.collector = collector
        self.chunks: List[bytes] = []
        self.sink_broken = False

    def _emit(self, data: bytes) -> None:
        if self.sink is not None and not self.sink_broken:
            self.sink_broken = not _write(self.sink, data)  # keep draining QEMU if our stdout went away
        if self.log is not None:
            try:
                self.log.write(data)
                self.log.flush()
            except (OSError, ValueError):
                self.log = None

    def run(self) -> None:
        pending = b""
        try:
            while True:
                try:
                    data = os.read(self.fd, 65536)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if self.follower is not None:
                    if self.follower.more(len(data)):
                        continue
                if not data:
                    break
                self.chunks.append(data)
                if self.collector is not None:
                    self.collector.add(data)
                if self.hide_line is None:
                    self._emit(data)
                if self.on_line is not None or self.hide_line is not None:
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self._line(line + b"\n")
            if pending:
                self._line(pending)
        finally:
            self.wake.set()

    def _line(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        if self.hide_line is not None and not self.hide_line(text):
            self._emit(line)
        if self.on_line is not None:
            self.on_line(text)
        if self.follow_sink is not None and EXIT_MARKER not in text and SERIAL_STDIO_LINE not in text:
            _write(self.follow_sink, line)

    def follow(self, sink: Optional[IO[Any]]) -> None:
        if sink is not None and sink is not self.sink:
            self.follow_sink = sink

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")


class _FileFollower:
    """`tail -f` of a file QEMU appends to: at the end of the file, wait and read again until
    QEMU is gone; punch out what was read (the file keeps its size, not its disk blocks), so a
    chatty app never fills the disk."""

    PUNCH_EVERY = 1 << 20
    POLL_MIN_S, POLL_MAX_S = 0.002, 0.02

    def __init__(self, fd: int, until: threading.Event) -> None:
        self.fd = fd
        self.until = until
        self.offset = 0
        self.punched = 0
        self.poll = self.POLL_MIN_S
        self.draining = False
        self._fallocate = _libc_fallocate()

    def more(self, got: int) -> bool:
        """After a read of `got` bytes: True to read again (the caller skips an empty read)."""
        if got:
            self.offset += got
            self.poll = self.POLL_MIN_S
            if self._fallocate is not None and self.offset - self.punched >= self.PUNCH_EVERY:
                # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE; failure (e.g. tmpfs without it) is fine.
                if self._fallocate(self.fd, 0x02 | 0x01, 0, self.offset) == 0:
                    self.punched = self.offset
            return False
        if self.draining:
            return False  # the file is complete and read to its end
        if self.until.wait(self.poll):
            self.draining = True  # QEMU is gone: one last read to the end
        self.poll = min(self.poll * 2, self.POLL_MAX_S)
        return True


def _libc_fallocate() -> Optional[Any]:
    try:
        import ctypes

        fallocate = ctypes.CDLL(None, use_errno=True).fallocate
        fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
        return fallocate
    except (OSError, AttributeError):
        return None


def log_tail(text: str, lines: int = 40) -> str:
    """The last `lines` lines of the log, without the exit marker and CRs."""
    kept = [ln.rstrip("\r") for ln in text.splitlines() if EXIT_MARKER not in ln and ln.strip("\r")]
    return "\n".join(kept[-lines:])
