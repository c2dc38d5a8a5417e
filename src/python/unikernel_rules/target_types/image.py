"""The `unikernel_image` target and its fields."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Iterable, Optional, Tuple

from pants.core.goals.package import OutputPathField
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    DictStringToStringField,
    IntField,
    InvalidFieldException,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import softwrap

from unikernel_rules.target_types.formats import UnikernelFormatsField
from unikernel_rules.target_types.publish import PUBLISH_FIELDS
from unikernel_rules.target_types.platform import UnikernelPlatformField
from unikernel_rules.target_types.guest import GUEST_FIELDS

class UnikernelImageDependenciesField(Dependencies):
    help = softwrap(
        """
        The app to boot, plus optional files to place in the image.

        Exactly one dependency must be an app target this plugin knows how to run (a
        `c_program`, a `pex_binary` booted on the locked CPython runtime, or a `java_program`).
        Files: `files` keep their path in the repository and `resources` their path relative to
        their source root, both under the image's `/app` (the app's working directory);
        Pants' `relocated_files` move them there; `unikernel_files(destination="/etc/myapp")`
        puts files at an absolute guest path. Any other dependency type is an error naming it,
        and so are two dependencies placing a file at the same guest path.
        """
    )


class UnikernelKernelField(StringField):
    alias = "kernel"
    help = softwrap(
        """
        Address of the `unikernel_kernel` target whose kernel boots this image.

        Defaults to the `[unikernel].default_kernel` option. Images that share a kernel share
        one cached kernel build; changing the app never rebuilds the kernel.
        """
    )


class UnikernelCommandField(StringSequenceField):
    alias = "command"
    help = softwrap(
        """
        The app's full command line inside the guest (program path first), replacing the
        default one of the app target (for a `c_program`: `/app/<binary name>`).
        """
    )


class UnikernelArgsField(StringSequenceField):
    alias = "args"
    help = softwrap(
        """
        Arguments appended to the app's command. `pants run <image> -- ARGS` appends more at
        boot time without rebuilding the image. Arguments may not contain newlines or
        double quotes.
        """
    )


class UnikernelEnvField(DictStringToStringField):
    alias = "env"
    help = softwrap(
        """
        Environment variables of the app, e.g. `{"LOG_LEVEL": "debug"}`. The app starts with
        a clean environment: these plus `PATH`, `HOME=/` and `TMPDIR=/tmp`.
        """
    )


_MEMORY_RE = re.compile(r"^\s*(\d+)\s*(m|mb|mib|g|gb|gib)?\s*$", re.IGNORECASE)


class UnikernelMemoryField(StringField):
    alias = "memory"
    default = "auto"
    min_mib: ClassVar[int] = 8
    max_mib: ClassVar[int] = 1024 * 1024
    # What `auto` gives an app whose runtime has no opinion (the C runtime).
    auto_default_mib: ClassVar[int] = 64
    help = softwrap(
        """
        RAM of the VM: a number of MiB (`64`, `"64"`, `"64M"`) or GiB (`"1G"`), or `"auto"`
        (the default): what a typical workload of the app's runtime needs, never less than the
        build's estimate of the image's floor (`memory_needed_mib` in manifest.json: the
        kernel, the files in RAM, the runtime and known big allocations, measured per runtime)
        and at least 64 MiB. Measured: 64 MiB for the C examples, 128 MiB for a Flask app that
        hashes passwords with scrypt. `pants package` records the result as `memory_mib`; init
        stops with a clear message when the memory is too small, and for one run
        `pants run --unikernel-run-memory=MiB` overrides it.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Any, address: Address) -> Optional[str]:
        if isinstance(raw_value, int) and not isinstance(raw_value, bool):
            raw_value = str(raw_value)
        # Checked when the image is built (`mib()`), not here: see target_types/guest.py.
        return super().compute_value(raw_value, address)

    @classmethod
    def parse_mib(cls, value: str, address: Address) -> Optional[int]:
        """MiB, or None for `auto`."""
        if value.strip().lower() == "auto":
            return None
        match = _MEMORY_RE.match(value)
        if not match:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{cls.alias}` field of {address} is {value!r}, which is not a memory size.
                    Use a number of MiB such as `memory=64` or `memory="64M"`, GiB such as
                    `memory="1G"`, or `memory="auto"` (the default).
                    """
                )
            )
        amount = int(match.group(1))
        unit = (match.group(2) or "m").lower()
        mib = amount * 1024 if unit.startswith("g") else amount
        if not cls.min_mib <= mib <= cls.max_mib:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{cls.alias}` field of {address} asks for {mib} MiB; it must be between
                    {cls.min_mib} MiB and {cls.max_mib // 1024} GiB. Set e.g. `memory=64`.
                    """
                )
            )
        return mib

    def mib(self, address: Address) -> Optional[int]:
        """MiB, or None for `auto` (the image rules decide, see goals/package.py)."""
        return self.parse_mib(self.value or self.default, address)


class UnikernelCpusField(IntField):
    alias = "cpus"
    default = 1
    help = "Number of virtual CPUs of the VM (1 to 64)."

    def parse(self, address: Address) -> int:
        value = self.value if self.value is not None else self.default
        if not 1 <= value <= 64:
            raise InvalidFieldException(
                f"The `{self.alias}` field of {address} is {value}; it must be between 1 and 64, "
                "e.g. `cpus=2`."
            )
        return value


_PORT_RE = re.compile(r"^(?:(\d+):)?(\d+)(?:/tcp)?$")


def parse_port_mapping(spec: str, address: Address, field_alias: str = "ports") -> Tuple[int, int]:
    """Parse `"8080"` or `"HOST:GUEST"` (optionally suffixed `/tcp`) into (host, guest)."""
    match = _PORT_RE.match(spec.strip())
    if match:
        host = int(match.group(1) or match.group(2))
        guest = int(match.group(2))
        if 1 <= host <= 65535 and 1 <= guest <= 65535:
            return host, guest
    raise InvalidFieldException(
        softwrap(
            f"""
            The `{field_alias}` field of {address} has the entry {spec!r}, which is not a TCP port
            mapping. Use `"8080"` (the same port on host and guest) or `"HOST:GUEST"` such as
            `"18080:8080"`, with ports between 1 and 65535.
            """
        )
    )


class UnikernelPortsField(StringSequenceField):
    alias = "ports"
    help = softwrap(
        """
        TCP ports of the guest that `pants run` forwards from the host's loopback interface:
        `"8080"` forwards host 8080 to guest 8080, `"18080:8080"` host 18080 to guest 8080.
        """
    )

    @classmethod
    def compute_value(
        cls, raw_value: Optional[Iterable[str]], address: Address
    ) -> Optional[Tuple[str, ...]]:
        if raw_value is not None and not isinstance(raw_value, str):
            raw_value = [str(v) if isinstance(v, int) else v for v in raw_value]
        # Checked when the image is built (`mappings()`), not here: see target_types/guest.py.
        return super().compute_value(raw_value, address)

    def mappings(self, address: Address) -> Tuple[Tuple[int, int], ...]:
        result = tuple(parse_port_mapping(s, address, self.alias) for s in self.value or ())
        hosts = [h for h, _ in result]
        twice = sorted({h for h in hosts if hosts.count(h) > 1})
        if twice:
            raise InvalidFieldException(
                f"The `{self.alias}` field of {address} forwards host port {twice[0]} twice; "
                'give each mapping its own host port, e.g. `ports=["8080", "18080:8081"]`.'
            )
        return result


class UnikernelKernelArgsField(StringSequenceField):
    alias = "kernel_args"
    help = softwrap(
        """
        Extra kernel command-line parameters, appended to the ones the plugin sets
        (`console=ttyS0 panic=-1 ...`). For example `["loglevel=7"]` to see all boot messages.
        A container run (`pants run --unikernel-run-format=container`) runs on the host's
        kernel: it ignores the kernel log's parameters (`loglevel`, `quiet`, `printk.*`, ...)
        and refuses any other (docs/containers.md).
        """
    )


class UnikernelInitrdCompressionField(StringField):
    alias = "initrd_compression"
    default = "gzip"
    valid_choices = ("gzip", "none")
    help = softwrap(
        """
        Compression of the initrd. `gzip` makes smaller bundles; `none` skips decompression at
        boot, which is faster for large images.
        """
    )


class UnikernelRootField(StringField):
    alias = "root"
    default = "auto"
    valid_choices = ("auto", "initramfs", "disk")
    help = softwrap(
        """
        Where the app's files live in the guest. `initramfs`: in the initrd, unpacked into RAM
        at boot (best for small static apps). `disk`: on a read-only compressed squashfs disk
        image, `rootfs.img` in the bundle, attached as virtio-blk and read lazily; init lays a
        RAM-backed overlay (tmpfs) on top, so the app can still write anywhere, as in a
        container, and the initrd keeps only init and its config (best for big runtimes:
        CPython, a JRE); the image's kernel then also gets the builtin `disk` fragment
        (squashfs, overlayfs). `auto`: what the app's runtime prefers (the C runtime:
        `initramfs`).
        """
    )


class UnikernelDiskCompressionField(StringField):
    alias = "disk_compression"
    default = "auto"
    valid_choices = ("auto", "lz4", "zstd")
    help = softwrap(
        """
        Compression of the disk root (`rootfs.img`, when `root` is `disk`). `lz4` (-Xhc):
        decompresses fastest in the guest; `zstd` (level 19): ~25% smaller images, ~2.7x slower
        to decompress. `auto`: the app runtime's choice (measured per runtime, see
        docs/benchmarks.md).
        """
    )


class UnikernelOutputPathField(OutputPathField):
    help = softwrap(
        """
        Where the bundle directory is written, relative to `dist/`. Defaults to
        `<dotted path of the BUILD file's directory>/<target name>`, e.g.
        `testprojects.c.hello_http/image`.
        """
    )


class UnikernelBenchmarkField(DictStringToStringField):
    alias = "benchmark"
    help = softwrap(
        """
        How this repository's benchmark report (`./pants run tests/benchmarks:report`, see
        docs/benchmarks.md) measures the image. Not used by `package` or `run`, and not part of
        the bundle or its cache keys. Keys (all optional):

        `ready`: a regular expression searched in each line the app prints; the first match
        means the app is ready. If it has a group 1, that group is the app's own
        `CLOCK_MONOTONIC` in milliseconds at that moment, the "virtual ms to ready". Default:
        `READY.*?monotonic_ms=([0-9.]+)` (the line the examples print).

        `until`: `"ready"` (default: a server, measured to its `ready` line) or `"exit"` (a
        batch app, measured to its exit; it must exit with status 0).

        `http_path`: the path of the `GET` that must answer 200 on the image's first port once
        ready (default `/`), or `"none"` for a port that does not speak HTTP.

        `edit`: the source file (from the build root) that the warm-rebuild measurement changes
        (default: the first source of the image's app).

        Example: `benchmark={"ready": "TCP server running", "http_path": "none"}`. The report's
        `--ready-pattern`, `--until-exit`, `--http-path` and `--edit` options override these
        keys for one run.
        """
    )


class UnikernelImageTarget(Target):
    alias = "unikernel_image"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        UnikernelImageDependenciesField,
        UnikernelKernelField,
        UnikernelCommandField,
        UnikernelArgsField,
        UnikernelEnvField,
        UnikernelMemoryField,
        UnikernelCpusField,
        UnikernelPortsField,
        UnikernelKernelArgsField,
        UnikernelInitrdCompressionField,
        UnikernelRootField,
        UnikernelDiskCompressionField,
        *GUEST_FIELDS,
        UnikernelFormatsField,
        UnikernelPlatformField,
        *PUBLISH_FIELDS,
        UnikernelOutputPathField,
        UnikernelBenchmarkField,
    )
    help = softwrap(
        """
        A bootable VM image: one app (plus files), a minimal Linux kernel and a tiny PID 1.

        `pants package` writes a direct-boot bundle directory holding `kernel` (bzImage),
        `initrd` (newc cpio), `cmdline` and `manifest.json` (plus `rootfs.img` with a disk
        root, see `root`), and the bootable disks that `formats` lists (raw, qcow2, vmdk, vhd,
        gce) for its `platform`; `pants run` boots it with QEMU,
        with the serial console on the terminal, and exits with the app's exit status.
        """
    )
