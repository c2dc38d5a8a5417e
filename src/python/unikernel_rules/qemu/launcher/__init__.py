"""Boot a unikernel image bundle with QEMU (or one of the image's disks, through firmware).

The guest's PID 1 prints `UNIKERNEL_EXIT=<n>` on the serial console when the app ends and
then writes n to the isa-debug-exit port, which makes QEMU exit with status (n << 1) | 1.
The launcher exits with the app's n (128+N if a signal N stopped it: 130 for Ctrl-C).

The app's stdout and stderr reach the launcher's byte for byte through two virtio consoles
(guest /dev/hvc0, /dev/hvc1); the serial console carries the kernel's and init's log, kept
apart (a file, shown on failure or with --show-log). See options.console_mode().

This package is standard-library-only (CPython 3.9+). `pants run` ships it and runs the
directory as a script (`python3 <dir> --bundle ...`, see __main__.py); tests and benchmarks
import it (`boot()`, `qemu_argv()`, `free_port()`). Modules by concern:

    options.py   bundles, LaunchOptions, BootResult, ports, network and console modes
    cmdline.py   the kernel command line (quoting app arguments)
    argv.py      the QEMU command line (devices, console, network, disks, volumes)
    disk.py      disk-image boots: the format to boot, firmware (SeaBIOS, OVMF), the disk
    volumes.py   persistent volumes (sparse ext4 files, formatted on first use)
    console.py   scanning and copying the guest's output, explaining the outcome
    host.py      probing KVM, finding QEMU and free ports, stopping processes
    boot.py      boot(): running QEMU to the end
    cli.py       the command line (`--help`)
"""

from .argv import (
    ISA_DEBUG_EXIT_DEVICE,
    MICROVM_VIRTIO_BASE,
    MICROVM_VIRTIO_IRQ_BASE,
    MICROVM_VIRTIO_TRANSPORTS,
    choose_accel,
    is_microvm,
    microvm_machine,
    microvm_mmio_params,
    netdev_args,
    parse_http_get,
    qemu_argv,
)
from .boot import EXIT_GRACE_S, HTTP_RETRY_NO_READY_S, HTTP_RETRY_S, PANIC_GRACE_S, boot
from .cli import build_parser, main
from .cmdline import KERNEL_CMDLINE_MAX, MAX_APP_ARGS, REPLACE_ARGS_PARAM, kernel_cmdline, kernel_quote, split_kernel_cmdline
from .console import INITRAMFS_FAILED_MARKER, OOM_MARKERS, PANIC_MARKER, ConsoleState, explain_exit, log_tail
from .disk import (
    DISK_FORMATS,
    FIRMWARES,
    FORMATS,
    DiskBoot,
    Ovmf,
    boot_format,
    built_formats,
    choose_firmware,
    extract_member,
    find_ovmf,
    plan_disk_boot,
)
from .host import find_qemu, free_port, probe_host, stop_process
from .options import (
    CONSOLE_MODES,
    DEFAULT_CMDLINE,
    DEFAULT_CPUS,
    DEFAULT_MACHINE,
    DEFAULT_MEMORY_MIB,
    EXIT_MARKER,
    NETWORK_MODES,
    BootResult,
    Bundle,
    HostInfo,
    LaunchError,
    LaunchOptions,
    console_mode,
    load_bundle,
    manifest_ports,
    network_mode,
    parse_port,
    select_ports,
)
from .volumes import manifest_volumes, mke2fs_argv, prepare_volumes

# The directory to run as a script: `python3 <LAUNCHER_DIR> --bundle ...`.
import os as _os

LAUNCHER_DIR = _os.path.dirname(_os.path.abspath(__file__))
