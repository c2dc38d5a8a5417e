"""The launcher's command line (`python3 <launcher dir> --bundle DIR [options] [-- APP ARGS]`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional, Sequence

from .boot import _info, boot
from .disk import FIRMWARES, FORMATS
from .options import CONSOLE_MODES, DEFAULT_MACHINE, NETWORK_MODES, LaunchError, LaunchOptions, parse_port


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="launcher",
        description="Boot a unikernel image (its bundle or one of its disk images) with QEMU. The exit status is the app's.",
        epilog="Arguments after `--` are passed to the app (on the kernel command line).",
    )
    p.add_argument("--bundle", required=True, help="the bundle directory (from `pants package`)")
    p.add_argument("--format", choices=FORMATS,
                   help="which built format to boot (default: the bundle if built, else the first disk format)")
    p.add_argument("--firmware", choices=FIRMWARES, default="auto",
                   help="a disk boot's firmware: bios (SeaBIOS), uefi (OVMF), auto (bios if the disk has it: "
                   "~4 s faster under TCG)")
    p.add_argument("--ovmf", metavar="FILE",
                   help="OVMF for uefi: an OVMF_CODE*.fd (its OVMF_VARS*.fd beside it) or an OVMF.fd "
                   "(default: the package paths of Debian, Fedora, Arch)")
    p.add_argument("--qemu", help="qemu-system-x86_64 to run (default: the one on PATH)")
    p.add_argument("--memory", type=int, metavar="MiB", help="guest memory (default: the manifest's)")
    p.add_argument("--cpus", type=int, metavar="N", help="guest CPUs (default: the manifest's)")
    p.add_argument(
        "--port", action="append", metavar="HOST:GUEST",
        help="forward 127.0.0.1:HOST to the guest's GUEST port; repeatable; replaces the "
        "manifest's ports; N means N:N; HOST 0 picks a free port",
    )
    p.add_argument("--no-ports", action="store_true", help="forward no ports")
    p.add_argument("--network", choices=NETWORK_MODES, help="override the manifest's `network`")
    p.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto",
                   help="auto: KVM if the CPU has vmx/svm and /dev/kvm opens read-write, else TCG")
    p.add_argument("--icount", action="store_true",
                   help="deterministic virtual time (-icount shift=0,sleep=off; forces TCG)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="stop the VM and exit 124 after this long (0: no limit)")
    p.add_argument("--ready", metavar="REGEX", help="an output line that means the app is ready")
    p.add_argument("--stop-after-ready", action="store_true",
                   help="stop the VM once --ready matched (and --http-get answered); exit 0")
    p.add_argument("--http-get", metavar="PORT/PATH",
                   help="after ready, GET http://127.0.0.1:<host port>/PATH (PORT: guest or host port)")
    p.add_argument("--log", metavar="FILE", help="write the guest's log (kernel and init; the serial console) to FILE")
    p.add_argument("--show-log", action="store_true", help="copy the guest's log to stderr as it comes")
    p.add_argument("--console", choices=CONSOLE_MODES, default="auto",
                   help="virtio: the app's stdout/stderr on virtio consoles, the log apart; serial: "
                   "everything on the serial console; auto: virtio for bundles whose init supports it")
    p.add_argument("--quiet", action="store_true", help="do not copy the app's output to stdout/stderr")
    p.add_argument("--verbose", "-v", action="store_true", help="say what the launcher does, on stderr")
    p.add_argument("--machine", default=DEFAULT_MACHINE, help="QEMU machine: pc (default), q35, microvm")
    p.add_argument("--kernel-param", action="append", default=[], metavar="PARAM",
                   help="add a kernel parameter (before the app arguments); repeatable")
    p.add_argument("--replace-args", action="store_true",
                   help="the arguments after `--` replace the image's `args` instead of following them")
    p.add_argument("--volumes-dir", metavar="DIR", help="where the image's volumes are kept (<serial>.img)")
    p.add_argument("--wipe-volumes", action="store_true", help="start with new, empty volumes")
    p.add_argument("--mke2fs-argv", metavar="JSON", help="argv prefix of mke2fs, as a JSON list (default: mke2fs)")
    p.add_argument("--mke2fs-config", metavar="FILE", help="MKE2FS_CONFIG for mke2fs")
    p.add_argument("--run-command", metavar="CMD",
                   help="how fix hints spell the run command (default: pants run <the manifest's target>)")
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
    mke2fs = None
    if ns.mke2fs_argv:
        try:
            mke2fs = [str(w) for w in json.loads(ns.mke2fs_argv)]
        except (ValueError, TypeError):
            parser.error(f"--mke2fs-argv {ns.mke2fs_argv!r} is not a JSON list of strings")
    # The options whose LaunchOptions field has the flag's name.
    same = (
        "qemu", "cpus", "no_ports", "network", "accel", "icount", "ready", "stop_after_ready", "http_get",
        "log", "show_log", "console", "quiet", "verbose", "machine", "replace_args", "volumes_dir",
        "wipe_volumes", "mke2fs_config", "run_command", "format", "firmware", "ovmf",
    )
    options = LaunchOptions(
        **{name: getattr(ns, name) for name in same},
        memory_mib=ns.memory,
        ports=ports,
        timeout=ns.timeout or None,
        app_args=app_args,
        kernel_params=ns.kernel_param,
        mke2fs=mke2fs,
        interactive=True,
        handle_signals=True,
    )
    try:
        result = boot(ns.bundle, options)
    except LaunchError as e:
        print(f"unikernel: {e}", file=sys.stderr, flush=True)
        return 1
    if result.log_excerpt:
        print(result.log_excerpt, file=sys.stderr, flush=True)
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
