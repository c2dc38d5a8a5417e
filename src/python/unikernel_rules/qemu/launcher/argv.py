"""The QEMU command line: machine, accelerator, console devices, network, disks and volumes
(a disk boot's firmware and disk: disk.py)."""

from __future__ import annotations

import os
from typing import Callable, List, Optional, Sequence, Tuple

from .cmdline import NETWORK_PARAM, REPLACE_ARGS_PARAM, check_kernel_param, kernel_cmdline, split_kernel_cmdline
from .devices import DHCP_GUEST_IP, check_machine, manifest_platform, nic_device, root_disk_args, uses_dhcp
from .disk import disk_args, disk_memory, plan_disk_boot
from .host import probe_host
from .options import (
    DEFAULT_CPUS,
    DEFAULT_MACHINE,
    DEFAULT_MEMORY_MIB,
    Bundle,
    HostInfo,
    LaunchError,
    LaunchOptions,
    console_mode,
    network_mode,
    run_command,
    select_ports,
)
from .volumes import manifest_volumes, volume_path

ISA_DEBUG_EXIT_DEVICE = "isa-debug-exit,iobase=0xf4,iosize=0x04"

# The console files in LaunchOptions.console_dir (virtio mode). Output goes to regular files
# (QEMU `file` chardevs) that the launcher follows: QEMU makes stdio, pipe and socket chardevs
# non-blocking, and a virtconsole port DROPS what such a backend cannot take at once (a reader
# that lags loses output); a regular file always takes everything. The app's stdin is a third
# port on a FIFO (QEMU 7.2's `file` chardev has no input side).
STDOUT_FILE = "stdout"  # hvc0: the app's stdout
STDERR_FILE = "stderr"  # hvc1: the app's stderr
STDIN_FIFO = "stdin"  # hvc2: the app's stdin (QEMU reads `stdin.in`)
SERIAL_FILE = "console"  # ttyS0: the kernel's and init's log, UNIKERNEL_EXIT=

# QEMU's microvm (acpi=off, ioapic2 off): 8 virtio-mmio transports, 512 bytes apart from
# 0xfeb00000, transport i on GSI 5 + i; -device virtio-*-device fills them from the last down.
MICROVM_VIRTIO_BASE = 0xFEB00000
MICROVM_VIRTIO_TRANSPORTS = 8
MICROVM_VIRTIO_IRQ_BASE = 5


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


def microvm_machine(machine: str) -> str:
    """The -M value for microvm: no ACPI (our kernels have none, and with ACPI QEMU describes the
    virtio-mmio devices only there) and no automatic virtio_mmio.device= words, because QEMU
    appends those at the very end of the command line, after ` -- `, where init would get them
    as arguments; qemu_argv() puts them before ` -- ` itself (see microvm_mmio_params())."""
    keys = {p.split("=", 1)[0] for p in machine.split(",")[1:]}
    extra = [opt for key, opt in (("acpi", "acpi=off"), ("auto-kernel-cmdline", "auto-kernel-cmdline=off"))
             if key not in keys]
    return ",".join([machine, *extra])


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


def qemu_opt_escape(value: str) -> str:
    """Escape a value inside a QEMU `key=value,...` option string."""
    return value.replace(",", ",,")


# Forwarded ports come in on a NIC of their own (guest eth1), always with `restrict=on`, so the
# guest's replies to them (QEMU's user networking sends forwarded connections from its host
# alias, 10.0.x.2) never need the route to the main NIC's host alias, which init rejects unless
# the image has `network="host"`: that alias is the host's 127.0.0.1.
PORTS_NET = "10.0.3.0/24"
PORTS_GUEST_IP = "10.0.3.15"


def netdev_args(bundle: Bundle, options: LaunchOptions) -> List[str]:
    """The -netdev values (ids net0, then net1 for forwarded ports), none for `network="none"`.

    net0 (guest eth0, 10.0.2.15, gateway 10.0.2.2): `isolated`: `restrict=on` (the guest
    reaches nothing outside); `outbound` and `host`: plain user networking (init rejects the
    route to 10.0.2.2, the host's loopback, unless the image has `network="host"`). net1 (guest
    eth1, 10.0.3.15, only when ports are forwarded): `restrict=on` with the `hostfwd` rules.
    A bundle without a `network` key (older builds) gets one plain NIC with the forwards.
    """
    mode = network_mode(bundle, options)
    ports = select_ports(bundle, options)
    if mode == "none":
        if ports:
            forwarded = ", ".join(f"{h}->{g}" for h, g in ports)
            raise LaunchError(
                f"{bundle.target} has `network=\"none\"` (no network device), so its ports "
                f"({forwarded}) cannot be forwarded: run it without them "
                f"(`{run_command(bundle, options, '--unikernel-run-ports=none')}`), or give the "
                "image another `network` (e.g. \"isolated\": only forwarded ports reach it)"
            )
        return []
    for host_port, _ in ports:
        if host_port == 0:
            raise LaunchError("host port 0 must be resolved to a free port before building argv")
    if mode is None:
        return ["user,id=net0" + "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in ports)]
    if uses_dhcp(bundle):
        # A cloud platform's image: one NIC, configured by DHCP, the ports forwarded to it.
        return [
            "user,id=net0"
            + (",restrict=on" if mode == "isolated" else "")
            + "".join(f",hostfwd=tcp:127.0.0.1:{h}-{DHCP_GUEST_IP}:{g}" for h, g in ports)
        ]
    netdevs = ["user,id=net0" + (",restrict=on" if mode == "isolated" else "")]
    if ports:
        netdevs.append(
            f"user,id=net1,restrict=on,net={PORTS_NET}"
            + "".join(f",hostfwd=tcp:127.0.0.1:{h}-{PORTS_GUEST_IP}:{g}" for h, g in ports)
        )
    return netdevs


def console_args(mode: str, console_dir: Optional[str], virtio: Callable[[str], str]) -> Tuple[List[str], List[str]]:
    """(-chardev/-serial arguments, -device values) for the console mode."""
    if mode == "serial":
        return ["-chardev", "stdio,id=con,signal=on", "-serial", "chardev:con"], []
    if not console_dir:
        raise LaunchError("the virtio console needs a directory for its files (console_dir)")
    path = lambda name: qemu_opt_escape(os.path.join(console_dir, name))  # noqa: E731
    chardevs = [
        "-chardev", f"file,id=app_out,path={path(STDOUT_FILE)}",
        "-chardev", f"file,id=app_err,path={path(STDERR_FILE)}",
        "-chardev", f"pipe,id=app_in,path={path(STDIN_FIFO)}",
        "-chardev", f"file,id=con,path={path(SERIAL_FILE)}",
        "-serial", "chardev:con",
    ]
    devices = [
        f"{virtio('serial')},id=vser,max_ports=3",
        "virtconsole,bus=vser.0,nr=0,chardev=app_out,name=stdout",
        "virtconsole,bus=vser.0,nr=1,chardev=app_err,name=stderr",
        "virtconsole,bus=vser.0,nr=2,chardev=app_in,name=stdin",
    ]
    return chardevs, devices


def volume_args(bundle: Bundle, options: LaunchOptions, virtio: Callable[[str], str]) -> Tuple[List[str], List[str]]:
    """(-drive arguments, -device values) for the image's volumes, in manifest order."""
    drives: List[str] = []
    devices: List[str] = []
    for vol in manifest_volumes(bundle):
        path = volume_path(bundle, options, vol)
        serial = vol["serial"]
        drives += ["-drive", f"file={qemu_opt_escape(path)},if=none,id={serial},format=raw"]
        devices.append(f"{virtio('blk')},drive={serial},serial={serial}")
    return drives, devices


# A kernel with the `efi` fragment (images with disk formats, a disk root or another platform)
# has ACPI, which firmware boots need (OVMF describes CPUs and interrupt routing only there).
# A direct boot under `-M pc` does not: SeaBIOS also gives the MP table and the PCI interrupt
# routing table, as for the kernels without ACPI. And there ACPI costs boot time: measured
# (TCG, -icount, QEMU 7.2, Linux 6.1) ~190 ms of guest time per PCI device to allocate its
# PIIX interrupt link (`ACPI: \_SB_.LNKB: Enabled at IRQ 10`), 838 ms to READY for the C disk
# example's 4 devices vs 32 ms with `acpi=off` (`-M q35`: 87 ms). So a bundle boot under `pc`
# turns it off, unless the user's kernel parameters say `acpi=...` themselves.
ACPI_OFF_PARAM = "acpi=off"
ACPI_FRAGMENTS = ("builtin:efi",)


def direct_boot_without_acpi(bundle: Bundle, machine: str, user_params: Sequence[str]) -> bool:
    fragments = ((bundle.manifest.get("kernel") or {}).get("fragments")) or []
    if not any(f in ACPI_FRAGMENTS for f in fragments):
        return False
    if any(p.startswith("acpi=") for p in [*user_params, *split_kernel_cmdline(bundle.cmdline)]):
        return False
    name = machine.split(",", 1)[0]
    return name == "pc" or name.startswith("pc-i440fx") or (name.startswith("pc-") and "q35" not in name)


def qemu_argv(bundle: Bundle, options: LaunchOptions, host: Optional[HostInfo] = None) -> List[str]:
    """The QEMU command line for `bundle` (pure, given `host` when options.accel is "auto"):
    its kernel and initrd, or the disk of the format to boot (options.format) and its firmware."""
    qemu = options.qemu or "qemu-system-x86_64"
    accel = choose_accel(options.accel, options.icount, host)
    memory = options.memory_mib or int(bundle.manifest.get("memory_mib") or DEFAULT_MEMORY_MIB)
    cpus = options.cpus or int(bundle.manifest.get("cpus") or DEFAULT_CPUS)
    if memory < 1 or cpus < 1:
        raise LaunchError("--memory and --cpus must be positive")
    machine = options.machine or DEFAULT_MACHINE
    mmio = is_microvm(machine)
    virtio = (lambda kind: f"virtio-{kind}-device") if mmio else (lambda kind: f"virtio-{kind}-pci")

    check_machine(bundle, mmio)
    disk = plan_disk_boot(bundle, options)
    memory = disk_memory(disk, memory, explicit=bool(options.memory_mib))
    netdevs = netdev_args(bundle, options)
    chardevs, console_devices = console_args(console_mode(bundle, options), options.console_dir, virtio)
    nic = manifest_platform(bundle)["nic"]
    devices = [
        *(nic_device(nic, f"net{i}", virtio) for i in range(len(netdevs))),
        virtio("rng"),
        *console_devices,
    ]
    drives: List[str] = []
    firmware: List[str] = []
    boot = ["-kernel", bundle.kernel, "-initrd", bundle.initrd]
    # rootfs.img (or the disk) stays the first virtio-blk device (/dev/vda); volumes follow.
    if disk is not None:
        firmware, drives, disk_devices = disk_args(bundle, disk, virtio, qemu_opt_escape)
        devices += disk_devices
        boot = []
    elif bundle.rootfs:
        drives, root_devices = root_disk_args(bundle, bundle.rootfs, "raw", "root", virtio, qemu_opt_escape, bootindex=False)
        devices += root_devices
    volume_drives, volume_devices = volume_args(bundle, options, virtio)
    drives += volume_drives
    devices += volume_devices
    for param in options.kernel_params:
        check_kernel_param(param)
    kernel_params: List[str] = list(options.kernel_params)
    if options.replace_args:
        kernel_params.append(REPLACE_ARGS_PARAM)
    if options.network and options.network != bundle.manifest.get("network"):
        kernel_params.append(f"{NETWORK_PARAM}={options.network}")
    if disk is None and direct_boot_without_acpi(bundle, machine, options.kernel_params):
        kernel_params.append(ACPI_OFF_PARAM)
    if mmio:
        if "auto-kernel-cmdline=on" not in machine.split(","):
            # virtconsole ports sit on the virtio-serial device: they take no transport.
            transports = [d for d in devices if not d.startswith("virtconsole")]
            kernel_params += microvm_mmio_params(len(transports))
        machine = microvm_machine(machine)

    if disk is None:
        boot += ["-append", kernel_cmdline(bundle.cmdline, options.app_args, kernel_params)]
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
        *boot,
        *firmware,
        *chardevs,
        "-device", ISA_DEBUG_EXIT_DEVICE,
        *(arg for netdev in netdevs for arg in ("-netdev", netdev)),
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


