"""Bundles, launch options and results: the launcher's data, and the port and network settings.

A bundle is the directory that `pants package` writes for an image target:

    kernel          the guest kernel (bzImage)
    initrd          the initramfs (newc cpio, maybe compressed) holding the app and its init
    cmdline         one line: the kernel command line
    manifest.json   {"memory_mib": .., "cpus": .., "ports": [{"host": H, "guest": G}], "files": {..},
                     "network": .., "volumes": [..], ..}
    rootfs.img      optional; attached read-only as a virtio disk when manifest["files"] lists it

An image can also (or only) hold disk images (manifest "formats"), booted through firmware: see disk.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional, Tuple

EXIT_MARKER = "UNIKERNEL_EXIT="

# `pc` stays the default: measured with -icount (QEMU 7.2, TCG, kernel 6.1, 1 vCPU), the virtual
# time to the app's readiness line was pc 0.312 s, q35 0.313 s, microvm 0.304 s, and wall
# times were within noise of each other; microvm also needs the command-line workaround in argv.py.
DEFAULT_MACHINE = "pc"
DEFAULT_MEMORY_MIB = 128
DEFAULT_CPUS = 1
DEFAULT_CMDLINE = "console=ttyS0 panic=-1"

# The manifest's `network` values (see docs/targets.md). A manifest without the key (bundles
# built before it existed) gets QEMU's plain user networking, as before.
NETWORK_MODES = ("isolated", "outbound", "host", "none")
# How the app's stdio reaches the host: `virtio` = two virtio consoles (guest /dev/hvc0 =
# stdin/stdout, /dev/hvc1 = stderr) copied byte for byte, the serial console (kernel and init
# log) to the log; `serial` = everything on the serial console, as before; `auto` = virtio for
# bundles whose init knows the virtio consoles (see console_mode()).
CONSOLE_MODES = ("auto", "virtio", "serial")


class LaunchError(Exception):
    """A problem with the bundle or the options, reported before QEMU starts."""


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

    @property
    def target(self) -> str:
        """The image's address, for fix hints (`pants run ... <target>`)."""
        return str(self.manifest.get("target") or "<image target>")


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
    formats = manifest.get("formats")
    missing = []
    # An image built without the "bundle" format has only disk files (checked by disk.py).
    if not isinstance(formats, dict) or "bundle" in formats:
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
    ready: Optional[str] = None  # regex searched in each console line (app output and log)
    stop_after_ready: bool = False
    http_get: Optional[str] = None  # "PORT/path": PORT is a guest port or a forwarded host port
    log: Optional[str] = None  # file to write the console log (kernel + init) to
    quiet: bool = False  # do not copy the app's output (and QEMU's stderr) to ours
    verbose: bool = False  # informational `unikernel:` lines on stderr
    machine: str = DEFAULT_MACHINE  # pc | q35 | microvm (with optional ",prop=value" suffixes)
    app_args: List[str] = dataclasses.field(default_factory=list)
    # True: the app arguments replace the image's `args` instead of being appended (init drops
    # the image's own; see cmdline.REPLACE_ARGS_PARAM).
    replace_args: bool = False
    # Extra kernel parameters, added before ` -- ` (e.g. "noapictimer", "loglevel=7").
    kernel_params: List[str] = dataclasses.field(default_factory=list)
    # True: QEMU inherits our stdin (an interactive terminal works). False: stdin is /dev/null.
    interactive: bool = False
    # True: SIGINT/SIGTERM/SIGHUP stop QEMU and boot() returns 128+sig (main thread only).
    handle_signals: bool = False
    extra_qemu_args: List[str] = dataclasses.field(default_factory=list)
    console: str = "auto"  # auto | virtio | serial (see CONSOLE_MODES)
    # Directory of the console FIFOs (virtio mode); boot() makes a temporary one.
    console_dir: Optional[str] = None
    show_log: bool = False  # copy the console log (kernel + init) to our stderr as it comes
    # None: the manifest's `network`; else one of NETWORK_MODES.
    network: Optional[str] = None
    # Where the image's volumes live (`<state_dir>/<serial>.img`); None: volumes are an error.
    volumes_dir: Optional[str] = None
    wipe_volumes: bool = False  # delete the image's volume files first (fresh, empty volumes)
    # argv prefix of mke2fs (formats a new volume); None: `mke2fs` from PATH.
    mke2fs: Optional[List[str]] = None
    mke2fs_config: Optional[str] = None  # MKE2FS_CONFIG for it (the tree's etc/mke2fs.conf)
    # What to boot: one of the image's built formats (disk.FORMATS); None: the bundle if the
    # image built one, else its first disk format.
    format: Optional[str] = None
    firmware: str = "auto"  # auto | bios | uefi: the firmware of a disk boot (see disk.py)
    # OVMF for `uefi`: an OVMF_CODE*.fd (its OVMF_VARS*.fd beside it) or a single OVMF.fd;
    # None: the known package paths (disk.OVMF_PFLASH, disk.OVMF_SINGLE).
    ovmf: Optional[str] = None
    # Directory for a disk boot's run files (the extracted gce disk, the UEFI variable store,
    # SeaBIOS's log); boot() makes a temporary one.
    work_dir: Optional[str] = None
    # How fix hints spell the run command (e.g. "pants run testprojects/c/hello_http:image").
    # None: `pants run <manifest target>`.
    run_command: Optional[str] = None


@dataclasses.dataclass
class BootResult:
    exit_code: int  # what the launcher exits with
    ready_line: Optional[str] = None
    ready_wall_s: Optional[float] = None  # seconds from QEMU start to the ready line
    output: str = ""  # everything the guest printed (log and app output), in arrival order
    app_stdout: str = ""  # the app's stdout (virtio console mode; else in `output`)
    app_stderr: str = ""  # the app's stderr (virtio console mode; else in `output`)
    console_log: str = ""  # the serial console: kernel and init log, UNIKERNEL_EXIT= marker
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
    console: str = "serial"  # the console mode used
    # What of the log to show after a failure (virtio console; the CLI prints it before `message`).
    log_excerpt: str = ""


# --------------------------------------------------------------------------------------------
# Ports, network, console


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


def network_mode(bundle: Bundle, options: LaunchOptions) -> Optional[str]:
    """The network mode: the option, else the manifest's `network`; None for an old bundle
    without the key (QEMU's plain user networking, as before the key existed)."""
    mode = options.network or bundle.manifest.get("network")
    if mode is None:
        return None
    if mode not in NETWORK_MODES:
        raise LaunchError(
            f"unknown network mode {mode!r} (from {'the run options' if options.network else 'the manifest'} "
            f"of {bundle.target}): use one of {', '.join(NETWORK_MODES)}"
        )
    return str(mode)


def console_mode(bundle: Bundle, options: LaunchOptions) -> str:
    """`virtio` or `serial`. `auto` picks virtio for bundles that say their init uses the virtio
    consoles (`"console": "virtio"`) or that carry the keys written since then (`network`)."""
    mode = options.console or "auto"
    if mode not in CONSOLE_MODES:
        raise LaunchError(f"unknown console mode {mode!r}: use one of {', '.join(CONSOLE_MODES)}")
    if mode != "auto":
        return mode
    m = bundle.manifest
    if m.get("console") == "virtio" or (m.get("console") is None and "network" in m):
        return "virtio"
    return "serial"


def run_command(bundle: Bundle, options: LaunchOptions, *run_options: str) -> str:
    """`pants run <run_options> <target>`: how a fix hint says to run the image again."""
    base = options.run_command or f"pants run {bundle.target}"
    if not run_options:
        return base
    words = base.split(" ")
    # Options go right after `pants run`, before the address.
    return " ".join([*words[:2], *run_options, *words[2:]])
