#!/usr/bin/env python3
"""Boot a unikernel image bundle with QEMU.

A bundle is the directory that `pants package` writes for an image target:

    kernel          the guest kernel (bzImage)
    initrd          the initramfs (newc cpio, maybe compressed) holding the app and its init
    cmdline         one line: the kernel command line
    manifest.json   {"memory_mib": .., "cpus": .., "ports": [{"host": H, "guest": G}], "files": {..}, ..}
    rootfs.img      optional; attached read-only as a virtio disk when manifest["files"] lists it

The guest's PID 1 prints `UNIKERNEL_EXIT=<n>` on the serial console when the app ends and
then writes n to the isa-debug-exit port, which makes QEMU exit with status (n << 1) | 1.
This launcher exits with the app's n.

This file is a standalone, standard-library-only script (CPython 3.9+): `pants run` executes
it directly, and tests and benchmarks import it (`boot()`, `qemu_argv()`, `free_port()`) or
run it as a subprocess.  Run `launcher.py --help` for the options.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple, Union

EXIT_MARKER = "UNIKERNEL_EXIT="
PANIC_MARKER = "Kernel panic - not syncing"
INITRAMFS_FAILED_MARKER = "Initramfs unpacking failed"
OOM_MARKERS = (
    "Out of memory",  # the kernel's OOM killer
    "out of memory",
    # The JVM, when it cannot reserve or commit its heap, metaspace or thread stacks:
    "There is insufficient memory for the Java Runtime Environment",
    "Could not reserve enough space",
    "java.lang.OutOfMemoryError",
    # CPython
    "MemoryError",
)

# `pc` stays the default: measured with -icount (QEMU 7.2, TCG, kernel 6.1, 1 vCPU), the virtual
# time to the app's readiness line was pc 0.312 s, q35 0.313 s, microvm 0.304 s, and wall
# times were within noise of each other; microvm also needs the command-line workaround below.
DEFAULT_MACHINE = "pc"
DEFAULT_MEMORY_MIB = 128
DEFAULT_CPUS = 1
DEFAULT_CMDLINE = "console=ttyS0 panic=-1"
ISA_DEBUG_EXIT_DEVICE = "isa-debug-exit,iobase=0xf4,iosize=0x04"

# x86's COMMAND_LINE_SIZE is 2048 bytes including the terminating NUL.
KERNEL_CMDLINE_MAX = 2047
# init/main.c: argv_init holds "init" plus at most CONFIG_INIT_ENV_ARG_LIMIT - 1 (= 31) arguments.
MAX_APP_ARGS = 31

# Seconds: after `UNIKERNEL_EXIT=` we give QEMU this long to exit through isa-debug-exit;
# after a kernel panic this long to reboot (panic=-1 with -no-reboot makes QEMU exit).
EXIT_GRACE_S = 5.0
PANIC_GRACE_S = 2.0
# Seconds between SIGTERM and SIGKILL when stopping QEMU.
TERM_GRACE_S = 2.0
# Seconds that --http-get keeps retrying after the ready line (or after boot without --ready).
HTTP_RETRY_S = 10.0
HTTP_RETRY_NO_READY_S = 60.0

# What QEMU prints on stderr when we stop it; not shown when the launcher did the stopping.
_QEMU_SIGNAL_LINE_RE = re.compile(r"^qemu-system-\S*: terminating on signal \d+")
_EXIT_LINE_RE = re.compile(r"UNIKERNEL_EXIT=(-?\d+)\s*$")
# Bytes that the kernel's isspace() treats as whitespace when it splits the command line
# (lib/ctype.c: \t \n \v \f \r, space, and 0xA0, which appears inside UTF-8 sequences).
_KERNEL_SPACE_BYTES = frozenset(b"\t\n\x0b\x0c\r \xa0")


class LaunchError(Exception):
    """A problem with the bundle or the options, reported before QEMU starts."""


# --------------------------------------------------------------------------------------------
# Bundles and options


@dataclasses.dataclass
class Bundle:
    path: str
    manifest: Dict[str, Any]
    cmdline: str

    @property
    def kernel(self) -> str:
        return os.path.join(self.path, "kernel")

    @property
    def initrd(self) -> str:
        return os.path.join(self.path, "initrd")

    @property
    def rootfs(self) -> Optional[str]:
        files = self.manifest.get("files") or {}
        if "rootfs.img" in files:
            return os.path.join(self.path, "rootfs.img")
        return None


def load_bundle(path: str) -> Bundle:
    """Read a bundle directory; raise LaunchError with a clear message if it is unusable."""
    if not os.path.isdir(path):
        raise LaunchError(f"the bundle directory {path!r} does not exist (run `pants package` first?)")
    manifest: Dict[str, Any] = {}
    manifest_path = os.path.join(path, "manifest.json")
    if os.path.exists(manifest_path):
        try:
            with open(manifest_path, encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError) as e:
            raise LaunchError(f"cannot read {manifest_path}: {e}") from e
        if not isinstance(manifest, dict):
            raise LaunchError(f"{manifest_path} does not hold a JSON object")
    cmdline = DEFAULT_CMDLINE
    cmdline_path = os.path.join(path, "cmdline")
    if os.path.exists(cmdline_path):
        with open(cmdline_path, encoding="utf-8", errors="surrogateescape") as f:
            cmdline = " ".join(f.read().split("\n")).strip()
    bundle = Bundle(path=path, manifest=manifest, cmdline=cmdline)
    missing = [p for p in (bundle.kernel, bundle.initrd) if not os.path.isfile(p)]
    if bundle.rootfs and not os.path.isfile(bundle.rootfs):
        missing.append(bundle.rootfs)
    if missing:
        raise LaunchError(f"the bundle {path!r} is incomplete: missing {', '.join(missing)}")
    return bundle


@dataclasses.dataclass
class HostInfo:
    """What the host offers for acceleration (probed by `probe_host()`, faked in tests)."""

    cpu_flags: frozenset
    kvm_usable: bool


@dataclasses.dataclass
class LaunchOptions:
    qemu: Optional[str] = None  # path to qemu-system-x86_64; None: search PATH
    memory_mib: Optional[int] = None  # None: manifest "memory_mib", else DEFAULT_MEMORY_MIB
    cpus: Optional[int] = None  # None: manifest "cpus", else 1
    # Port forwards (host, guest). None: the manifest's ports. A host port of 0 means "any
    # free port" (boot() picks one; qemu_argv() rejects 0).
    ports: Optional[List[Tuple[int, int]]] = None
    no_ports: bool = False
    accel: str = "auto"  # auto | kvm | tcg
    icount: bool = False  # -icount shift=0,sleep=off (deterministic virtual time; forces TCG)
    timeout: Optional[float] = None  # seconds
    ready: Optional[str] = None  # regex searched in each console line
    stop_after_ready: bool = False
    http_get: Optional[str] = None  # "PORT/path": PORT is a guest port or a forwarded host port
    log: Optional[str] = None  # file to write the console output to
    quiet: bool = False  # do not copy the console output (and QEMU's stderr) to ours
    verbose: bool = False  # informational `unikernel:` lines on stderr
    machine: str = DEFAULT_MACHINE  # pc | q35 | microvm (with optional ",prop=value" suffixes)
    app_args: List[str] = dataclasses.field(default_factory=list)
    # Extra kernel parameters, added before ` -- ` (e.g. "noapictimer", "loglevel=7").
    kernel_params: List[str] = dataclasses.field(default_factory=list)
    # True: QEMU inherits our stdin (an interactive terminal works). False: stdin is /dev/null.
    interactive: bool = False
    # True: SIGINT/SIGTERM/SIGHUP stop QEMU and boot() returns 128+sig (main thread only).
    handle_signals: bool = False
    extra_qemu_args: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class BootResult:
    exit_code: int  # what the launcher exits with
    ready_line: Optional[str] = None
    ready_wall_s: Optional[float] = None  # seconds from QEMU start to the ready line
    output: str = ""  # the console output
    http_status: Optional[int] = None
    http_body: Optional[str] = None
    http_error: Optional[str] = None
    panicked: bool = False
    panic_line: Optional[str] = None
    qemu_returncode: Optional[int] = None
    app_exit: Optional[int] = None  # n from UNIKERNEL_EXIT=<n>
    exit_wall_s: Optional[float] = None  # seconds from QEMU start to the exit marker
    wall_s: float = 0.0  # seconds from QEMU start until it was gone
    timed_out: bool = False
    signal: Optional[int] = None  # the signal that stopped the launcher
    stopped_after_ready: bool = False
    message: Optional[str] = None  # the explanation printed for a failure
    stderr: str = ""  # QEMU's stderr
    argv: List[str] = dataclasses.field(default_factory=list)
    ports: List[Tuple[int, int]] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Pure helpers


def parse_port(spec: str) -> Tuple[int, int]:
    """`HOST:GUEST` or `N` (meaning N:N) -> (host, guest). A host port of 0 means any free port."""
    parts = spec.strip().split(":")
    if len(parts) == 1:
        parts = [parts[0], parts[0]]
    if len(parts) != 2:
        raise ValueError(f"bad port {spec!r}: expected HOST:GUEST or PORT")
    try:
        host, guest = int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"bad port {spec!r}: expected HOST:GUEST or PORT") from None
    if not 0 <= host <= 65535 or not 1 <= guest <= 65535:
        raise ValueError(f"bad port {spec!r}: ports are 1-65535 (host port 0 picks a free one)")
    return host, guest


def manifest_ports(manifest: Dict[str, Any]) -> List[Tuple[int, int]]:
    ports = []
    for p in manifest.get("ports") or []:
        if isinstance(p, dict):
            guest = int(p["guest"])
            ports.append((int(p.get("host", guest)), guest))
        else:
            ports.append(parse_port(str(p)))
    return ports


def select_ports(bundle: Bundle, options: LaunchOptions) -> List[Tuple[int, int]]:
    if options.no_ports:
        return []
    if options.ports is not None:
        return list(options.ports)
    return manifest_ports(bundle.manifest)


def choose_accel(requested: str, icount: bool, host: Optional[HostInfo]) -> str:
    """The accelerator to use: 'kvm' only if asked for, or if `auto` and the CPU has vmx/svm
    and /dev/kvm opens read-write. -icount needs TCG."""
    if requested not in ("auto", "kvm", "tcg"):
        raise LaunchError(f"unknown accelerator {requested!r}: use auto, kvm or tcg")
    if icount:
        if requested == "kvm":
            raise LaunchError("--icount needs the TCG accelerator; it cannot be used with --accel kvm")
        return "tcg"
    if requested != "auto":
        return requested
    if host is None:
        host = probe_host()
    if host.kvm_usable and ({"vmx", "svm"} & set(host.cpu_flags)):
        return "kvm"
    return "tcg"


def is_microvm(machine: str) -> bool:
    return machine.split(",", 1)[0] == "microvm"


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


def microvm_machine(machine: str) -> str:
    """The -M value for microvm: no ACPI (our kernels have none, and with ACPI QEMU describes the
    virtio-mmio devices only there) and no automatic virtio_mmio.device= words, because QEMU
    appends those at the very end of the command line, after ` -- `, where init would get them
    as arguments; qemu_argv() puts them before ` -- ` itself (see microvm_mmio_params())."""
    keys = {p.split("=", 1)[0] for p in machine.split(",")[1:]}
    extra = [opt for key, opt in (("acpi", "acpi=off"), ("auto-kernel-cmdline", "auto-kernel-cmdline=off"))
             if key not in keys]
    return ",".join([machine, *extra])


# QEMU's microvm (acpi=off, ioapic2 off): 8 virtio-mmio transports, 512 bytes apart from
# 0xfeb00000, transport i on GSI 5 + i; -device virtio-*-device fills them from the last down.
MICROVM_VIRTIO_BASE = 0xFEB00000
MICROVM_VIRTIO_TRANSPORTS = 8
MICROVM_VIRTIO_IRQ_BASE = 5


def microvm_mmio_params(device_count: int) -> List[str]:
    """virtio_mmio.device= kernel parameters for the first `device_count` virtio devices."""
    if device_count > MICROVM_VIRTIO_TRANSPORTS:
        raise LaunchError(f"microvm has only {MICROVM_VIRTIO_TRANSPORTS} virtio-mmio transports")
    params = []
    for n in range(device_count):
        index = MICROVM_VIRTIO_TRANSPORTS - 1 - n
        params.append(
            f"virtio_mmio.device=512@0x{MICROVM_VIRTIO_BASE + 512 * index:x}:{MICROVM_VIRTIO_IRQ_BASE + index}"
        )
    return params


def _qemu_opt_escape(value: str) -> str:
    """Escape a value inside a QEMU `key=value,...` option string."""
    return value.replace(",", ",,")


def qemu_argv(bundle: Bundle, options: LaunchOptions, host: Optional[HostInfo] = None) -> List[str]:
    """The QEMU command line for `bundle` (pure, given `host` when options.accel is "auto")."""
    qemu = options.qemu or "qemu-system-x86_64"
    accel = choose_accel(options.accel, options.icount, host)
    memory = options.memory_mib or int(bundle.manifest.get("memory_mib") or DEFAULT_MEMORY_MIB)
    cpus = options.cpus or int(bundle.manifest.get("cpus") or DEFAULT_CPUS)
    if memory < 1 or cpus < 1:
        raise LaunchError("--memory and --cpus must be positive")
    machine = options.machine or DEFAULT_MACHINE
    mmio = is_microvm(machine)
    virtio = (lambda kind: f"virtio-{kind}-device") if mmio else (lambda kind: f"virtio-{kind}-pci")

    netdev = "user,id=net0"
    for host_port, guest_port in select_ports(bundle, options):
        if host_port == 0:
            raise LaunchError("host port 0 must be resolved to a free port before building argv")
        netdev += f",hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}"

    devices = [f"{virtio('net')},netdev=net0", virtio("rng")]
    drives = []
    if bundle.rootfs:
        drives = ["-drive", f"file={_qemu_opt_escape(bundle.rootfs)},if=none,id=root,format=raw,readonly=on"]
        devices.append(f"{virtio('blk')},drive=root")
    for param in options.kernel_params:
        if not param or param == "--" or any(c in param for c in '"\n\r') or kernel_quote(param) != param:
            raise LaunchError(f"bad kernel parameter {param!r}: one word, without quotes or spaces")
    kernel_params: List[str] = list(options.kernel_params)
    if mmio:
        if "auto-kernel-cmdline=on" not in machine.split(","):
            kernel_params += microvm_mmio_params(len(devices))
        machine = microvm_machine(machine)

    argv = [
        qemu,
        "-M", machine,
        "-accel", accel,
        # Under -icount, RDRAND/RDSEED (random timing) and the host's wall clock would make
        # the guest's virtual time differ between boots: turn them off so it is exact.
        "-cpu", "host" if accel == "kvm" else ("max,rdrand=off,rdseed=off" if options.icount else "max"),
        "-m", str(memory),
        "-smp", str(cpus),
        "-nodefaults",
        "-no-user-config",
        "-display", "none",
        "-no-reboot",
        "-kernel", bundle.kernel,
        "-initrd", bundle.initrd,
        "-append", kernel_cmdline(bundle.cmdline, options.app_args, kernel_params),
        "-chardev", "stdio,id=con,signal=on",
        "-serial", "chardev:con",
        "-device", ISA_DEBUG_EXIT_DEVICE,
        "-netdev", netdev,
        *drives,
    ]
    for device in devices:
        argv += ["-device", device]
    if options.icount:
        argv += ["-icount", "shift=0,sleep=off", "-rtc", "base=2000-01-01T00:00:00,clock=vm"]
    argv += list(options.extra_qemu_args)
    return argv


def parse_http_get(spec: str, ports: Sequence[Tuple[int, int]]) -> Tuple[int, str]:
    """`PORT/path` -> (host port, path). PORT names a guest port, or else a forwarded host port."""
    port_s, slash, path = spec.partition("/")
    path = "/" + path if slash else "/"
    try:
        port = int(port_s)
    except ValueError:
        raise LaunchError(f"bad --http-get {spec!r}: expected PORT/path, e.g. 8080/healthz") from None
    for host_port, guest_port in ports:
        if guest_port == port:
            return host_port, path
    for host_port, _ in ports:
        if host_port == port:
            return host_port, path
    raise LaunchError(
        f"--http-get {spec!r}: port {port} is not forwarded (forwarded: "
        f"{', '.join(f'{h}->{g}' for h, g in ports) or 'none'}); add --port"
    )


@dataclasses.dataclass
class ConsoleState:
    """What the console output has told us so far (fed line by line)."""

    ready_re: Optional["re.Pattern[str]"] = None
    app_exit: Optional[int] = None
    exit_line: Optional[str] = None
    panic_line: Optional[str] = None
    initramfs_failed: bool = False
    out_of_memory: bool = False
    ready_line: Optional[str] = None
    lines: int = 0

    def feed_line(self, line: str) -> List[str]:
        """Scan one complete line; return the events it raised: 'exit', 'panic', 'ready'."""
        events = []
        line = line.rstrip("\r\n")
        self.lines += 1
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
) -> Tuple[int, Optional[str]]:
    """Map what happened to (launcher exit code, message for stderr or None)."""
    if state.app_exit is not None:
        status = state.app_exit & 0xFF
        if status != 0 and state.out_of_memory:
            have = f"{memory_mib} MiB" if memory_mib else "its memory"
            return status, (
                f"unikernel: the app exited with status {status} after running out of memory "
                f"(see the console output above); the VM had {have}. Raise the `memory` field "
                f"of the unikernel_image target, e.g. `memory={2 * (memory_mib or 64)}`."
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
            f" Try --memory {suggest}, or raise the `memory` field of the unikernel_image target."
        )
    if state.panic_line is not None and not memory_hint and any(
        p in state.panic_line for p in ("Unable to mount root fs", "No working init found")
    ):
        have = f"it had {memory_mib} MiB" if memory_mib else "see --memory"
        memory_hint = (
            " The kernel found no usable /init in the initramfs: either the initrd is broken, "
            f"or the VM has too little memory to unpack and start it ({have}; try --memory "
            f"{2 * (memory_mib or 64)})."
        )
    if state.panic_line is not None:
        return 1, (
            f"unikernel: the guest kernel panicked ({state.panic_line}) and the VM was stopped; "
            f"the app did not report an exit status.{memory_hint} The console output above shows "
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
                f"which usually means the VM has too little memory{have}: try a larger --memory. "
                "Drop `quiet` from the kernel command line (or add earlyprintk=ttyS0) to see more."
            )
        return 1, (
            "unikernel: the VM stopped (the guest rebooted or powered off) without the app "
            f"reporting an exit status (no {EXIT_MARKER}<n> line on the console).{memory_hint}"
        )
    hint = ""
    if "Could not set up host forwarding rule" in stderr:
        hint = (
            " A host port is already in use: pick others with --port HOST:GUEST "
            "(or drop them with --no-ports)."
        )
    elif stderr.strip():
        hint = " QEMU's error message is above."
    return 1, (
        f"unikernel: QEMU exited with status {rc} without the app reporting an exit status; "
        f"QEMU could not start the VM or stopped with an error.{hint}{memory_hint}"
    )


# --------------------------------------------------------------------------------------------
# Host probing and process control


def probe_host(cpuinfo_path: str = "/proc/cpuinfo", kvm_path: str = "/dev/kvm") -> HostInfo:
    flags: set = set()
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.partition(":")[2].split())
                    break
    except OSError:
        pass
    kvm = False
    try:
        fd = os.open(kvm_path, os.O_RDWR | os.O_CLOEXEC)
        os.close(fd)
        kvm = True
    except OSError:
        pass
    return HostInfo(cpu_flags=frozenset(flags), kvm_usable=kvm)


def find_qemu(explicit: Optional[str] = None) -> str:
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        found = shutil.which(explicit)
        if found:
            return found
        raise LaunchError(f"QEMU was not found at {explicit!r}")
    found = shutil.which("qemu-system-x86_64")
    if not found:
        raise LaunchError(
            "qemu-system-x86_64 was not found on PATH: install QEMU (Debian: apt-get install "
            "qemu-system-x86) or pass --qemu PATH"
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pdeathsig_preexec():
    """A preexec_fn that makes the child get SIGKILL when the launcher dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the launcher died before prctl took effect
            os._exit(1)

    return preexec


def stop_process(proc: "subprocess.Popen[bytes]", grace_s: float = TERM_GRACE_S) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; always waits for the process."""
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except BaseException:
        # Interrupted (e.g. a second Ctrl-C) while waiting: never leave QEMU behind.
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise


class _Signalled(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Pump(threading.Thread):
    """Copies one of QEMU's output pipes to our stream and collects it, line by line."""

    def __init__(
        self,
        fd: int,
        sink: Optional[IO[Any]],
        log: Optional[IO[bytes]],
        on_line: Optional[Any],
        wake: threading.Event,
        hide_line: Optional[Any] = None,
    ) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.sink = sink
        self.log = log
        self.on_line = on_line
        self.wake = wake
        # If set, output is copied a line at a time, without the lines for which it is true.
        self.hide_line = hide_line
        self.chunks: List[bytes] = []
        self.sink_broken = False

    def _emit(self, data: bytes) -> None:
        if self.sink is not None and not self.sink_broken:
            try:
                buf = getattr(self.sink, "buffer", None)
                if buf is not None:
                    buf.write(data)
                    buf.flush()
                else:
                    self.sink.write(data.decode("utf-8", "replace"))
                    self.sink.flush()
            except (OSError, ValueError):
                self.sink_broken = True  # keep draining QEMU even if our stdout went away
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
                if not data:
                    break
                self.chunks.append(data)
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

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")


def _http_get(port: int, path: str, timeout: float) -> Tuple[int, str]:
    """GET http://127.0.0.1:port/path without proxies -> (status, body)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        return resp.status, body
    finally:
        conn.close()


def _info(options: LaunchOptions, msg: str) -> None:
    if options.verbose:
        print(f"unikernel: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Booting


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
    argv = qemu_argv(bundle, options)
    memory = options.memory_mib or int(bundle.manifest.get("memory_mib") or DEFAULT_MEMORY_MIB)
    memory_needed = bundle.manifest.get("memory_needed_mib")
    _info(options, "running " + " ".join(_shell_quote(a) for a in argv))

    state = ConsoleState(ready_re=ready_re)
    result = BootResult(exit_code=1, argv=argv, ports=ports)
    wake = threading.Event()
    lock = threading.Lock()
    marks: Dict[str, float] = {}
    start = time.monotonic()

    def on_line(line: str) -> None:
        with lock:
            for event in state.feed_line(line):
                marks.setdefault(event, time.monotonic())
        wake.set()

    if options.accel == "kvm":
        host = probe_host()
        if not (host.kvm_usable and {"vmx", "svm"} & set(host.cpu_flags)):
            print("unikernel: warning: --accel kvm was asked for, but this CPU shows no vmx/svm "
                  "flag or /dev/kvm does not open read-write; the VM may fail or hang",
                  file=sys.stderr, flush=True)
    try:
        log_file = open(options.log, "wb") if options.log else None
    except OSError as e:
        raise LaunchError(f"cannot write the log file {options.log!r}: {e}") from e
    saved_tty = _save_tty() if options.interactive else None
    old_handlers: Dict[int, Any] = {}
    proc: Optional["subprocess.Popen[bytes]"] = None
    pumps: List[_Pump] = []
    stopping: List[bool] = []
    fired: List[int] = []  # signals received; once non-empty, the handler no longer raises

    def stop() -> None:
        if proc is not None and proc.poll() is None:
            stopping.append(True)
            stop_process(proc)
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
                stdin=None if options.interactive else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=_pdeathsig_preexec(),
                close_fds=True,
            )
        except OSError as e:
            result.message = f"unikernel: could not start QEMU ({argv[0]}): {e}"
            return result
        start = time.monotonic()
        assert proc.stdout is not None and proc.stderr is not None
        out_pump = _Pump(proc.stdout.fileno(), None if options.quiet else sys.stdout, log_file, on_line, wake)
        err_pump = _Pump(
            proc.stderr.fileno(), None if options.quiet else sys.stderr, None, None, wake,
            hide_line=lambda line: bool(stopping) and _QEMU_SIGNAL_LINE_RE.match(line) is not None,
        )
        pumps = [out_pump, err_pump]
        for p in pumps:
            p.start()
        _wait_for_vm(proc, stop, options, state, lock, marks, wake, start, http_target, result)
        for p in pumps:
            p.join(timeout=5)
    except _Signalled as e:
        result.signal = e.signum
        if proc is not None:
            stop()
    finally:
        fired.append(0)  # a signal now (QEMU is already gone or going) must not abort cleanup
        if proc is not None:
            stop()
            for p in pumps:
                p.join(timeout=5)
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()
        for sig, old in old_handlers.items():
            signal.signal(sig, old)
        _restore_tty(saved_tty)
        if log_file is not None:
            log_file.close()

    result.wall_s = time.monotonic() - start
    result.qemu_returncode = proc.returncode
    result.output = pumps[0].text() if pumps else ""
    result.stderr = pumps[1].text() if len(pumps) > 1 else ""
    result.panicked = state.panic_line is not None
    result.panic_line = state.panic_line
    result.app_exit = state.app_exit
    result.ready_line = state.ready_line
    if "ready" in marks:
        result.ready_wall_s = marks["ready"] - start
    if "exit" in marks:
        result.exit_wall_s = marks["exit"] - start

    if result.signal is not None:
        result.exit_code = 128 + result.signal
        result.message = f"unikernel: stopped by signal {result.signal}; the VM was stopped"
    elif result.timed_out:
        result.exit_code = 124
        result.message = f"unikernel: timed out after {options.timeout:g} s; the VM was stopped"
    elif result.stopped_after_ready:
        ok = http_target is None or (result.http_status is not None and 200 <= result.http_status < 400)
        result.exit_code = 0 if ok else 1
        if not ok:
            result.message = _http_failure(http_target, result)
    else:
        code, message = explain_exit(state, proc.returncode, memory, memory_needed, result.stderr)
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
    return result


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
            result.http_status, result.http_body = _http_get(port, path, timeout=max(0.1, min(5.0, left)))
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


def _save_tty() -> Optional[Any]:
    try:
        import termios

        if os.isatty(0):
            return termios.tcgetattr(0)
    except (ImportError, OSError):
        pass
    return None


def _restore_tty(saved: Optional[Any]) -> None:
    """QEMU puts a terminal on stdin into raw mode; put it back even if QEMU was killed."""
    if saved is None:
        return
    try:
        import termios

        old = None
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        finally:
            if old is not None:
                signal.signal(signal.SIGTTOU, old)
    except (ImportError, OSError):
        pass


def _shell_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


# --------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="launcher.py",
        description="Boot a unikernel image bundle with QEMU. The exit status is the app's.",
        epilog="Arguments after `--` are passed to the app (on the kernel command line).",
    )
    p.add_argument("--bundle", required=True, help="the bundle directory (from `pants package`)")
    p.add_argument("--qemu", help="qemu-system-x86_64 to run (default: the one on PATH)")
    p.add_argument("--memory", type=int, metavar="MiB", help="guest memory (default: the manifest's)")
    p.add_argument("--cpus", type=int, metavar="N", help="guest CPUs (default: the manifest's)")
    p.add_argument(
        "--port", action="append", metavar="HOST:GUEST",
        help="forward 127.0.0.1:HOST to the guest's GUEST port; repeatable; replaces the "
        "manifest's ports; N means N:N; HOST 0 picks a free port",
    )
    p.add_argument("--no-ports", action="store_true", help="forward no ports")
    p.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto",
                   help="auto: KVM if the CPU has vmx/svm and /dev/kvm opens read-write, else TCG")
    p.add_argument("--icount", action="store_true",
                   help="deterministic virtual time (-icount shift=0,sleep=off; forces TCG)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop the VM and exit 124 after this long")
    p.add_argument("--ready", metavar="REGEX", help="a console line that means the app is ready")
    p.add_argument("--stop-after-ready", action="store_true",
                   help="stop the VM once --ready matched (and --http-get answered); exit 0")
    p.add_argument("--http-get", metavar="PORT/PATH",
                   help="after ready, GET http://127.0.0.1:<host port>/PATH (PORT: guest or host port)")
    p.add_argument("--log", metavar="FILE", help="also write the console output to FILE")
    p.add_argument("--quiet", action="store_true", help="do not copy the console output to stdout")
    p.add_argument("--verbose", "-v", action="store_true", help="say what the launcher does, on stderr")
    p.add_argument("--machine", default=DEFAULT_MACHINE, help="QEMU machine: pc (default), q35, microvm")
    p.add_argument("--kernel-param", action="append", default=[], metavar="PARAM",
                   help="add a kernel parameter (before the app arguments); repeatable")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    app_args: List[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, app_args = argv[:i], argv[i + 1 :]
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        ports = [parse_port(p) for p in ns.port] if ns.port else None
    except ValueError as e:
        parser.error(str(e))
    options = LaunchOptions(
        qemu=ns.qemu,
        memory_mib=ns.memory,
        cpus=ns.cpus,
        ports=ports,
        no_ports=ns.no_ports,
        accel=ns.accel,
        icount=ns.icount,
        timeout=ns.timeout,
        ready=ns.ready,
        stop_after_ready=ns.stop_after_ready,
        http_get=ns.http_get,
        log=ns.log,
        quiet=ns.quiet,
        verbose=ns.verbose,
        machine=ns.machine,
        app_args=app_args,
        kernel_params=ns.kernel_param,
        interactive=True,
        handle_signals=True,
    )
    try:
        result = boot(ns.bundle, options)
    except LaunchError as e:
        print(f"unikernel: {e}", file=sys.stderr, flush=True)
        return 1
    if result.message:
        print(result.message, file=sys.stderr, flush=True)
    if options.verbose:
        parts = [f"exit {result.exit_code}", f"QEMU status {result.qemu_returncode}", f"{result.wall_s:.3f} s"]
        if result.ready_wall_s is not None:
            parts.append(f"ready after {result.ready_wall_s:.3f} s")
        if result.http_status is not None:
            parts.append(f"HTTP {result.http_status}")
        _info(options, ", ".join(parts))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
