"""Target types of unikernel_rules: `unikernel_image`, `unikernel_kernel`, `c_program`, `c_library`,
`java_program`, `java_jar`."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Iterable, Optional, Tuple

from pants.core.goals.package import OutputPathField
from pants.engine.addresses import Address
from pants.option.global_options import GlobMatchErrorBehavior
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    DictStringToStringField,
    BoolField,
    IntField,
    InvalidFieldException,
    MultipleSourcesField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import softwrap

# ---------------------------------------------------------------------------------------------
# unikernel_image
# ---------------------------------------------------------------------------------------------


class UnikernelImageDependenciesField(Dependencies):
    help = softwrap(
        """
        The app to boot, plus optional `files`/`resources` targets to place in the image.

        Exactly one dependency must be an app target this plugin knows how to run
        (a `c_program`, or a `pex_binary` booted on the locked CPython runtime). `files` keep their path in the repository and `resources` their
        path relative to their source root; both are placed under the image's `/app`
        directory, which is also the app's working directory.
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
    default = "64"
    min_mib: ClassVar[int] = 8
    max_mib: ClassVar[int] = 1024 * 1024
    help = softwrap(
        """
        RAM of the VM: a number of MiB (`64`, `"64"`, `"64M"`) or GiB (`"1G"`).

        The image's files live in RAM (the initramfs), so the VM needs at least their unpacked
        size plus the kernel's own needs; `pants package` records an estimate as
        `memory_needed_mib` in the bundle's manifest.json, and init stops with a clear message
        when the memory is too small.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Any, address: Address) -> Optional[str]:
        if isinstance(raw_value, int) and not isinstance(raw_value, bool):
            raw_value = str(raw_value)
        value = super().compute_value(raw_value, address)
        assert value is not None
        cls.parse_mib(value, address)
        return value

    @classmethod
    def parse_mib(cls, value: str, address: Address) -> int:
        match = _MEMORY_RE.match(value)
        if not match:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{cls.alias}` field of {address} is {value!r}, which is not a memory size.
                    Use a number of MiB such as `memory=64` or `memory="64M"`, or GiB such as
                    `memory="1G"`.
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

    def mib(self, address: Address) -> int:
        assert self.value is not None
        return self.parse_mib(self.value, address)


class UnikernelCpusField(IntField):
    alias = "cpus"
    default = 1
    help = "Number of virtual CPUs of the VM (1 to 64)."

    @classmethod
    def compute_value(cls, raw_value: Optional[int], address: Address) -> int:
        value = super().compute_value(raw_value, address)
        assert value is not None
        if not 1 <= value <= 64:
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is {value}; it must be between 1 and 64."
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
        value = super().compute_value(raw_value, address)
        seen_host = set()
        for spec in value or ():
            host, _ = parse_port_mapping(spec, address, cls.alias)
            if host in seen_host:
                raise InvalidFieldException(
                    f"The `{cls.alias}` field of {address} forwards host port {host} twice."
                )
            seen_host.add(host)
        return value

    def mappings(self, address: Address) -> Tuple[Tuple[int, int], ...]:
        return tuple(parse_port_mapping(s, address, self.alias) for s in self.value or ())


class UnikernelKernelArgsField(StringSequenceField):
    alias = "kernel_args"
    help = softwrap(
        """
        Extra kernel command-line parameters, appended to the ones the plugin sets
        (`console=ttyS0 panic=-1 ...`). For example `["loglevel=7"]` to see all boot messages.
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
        UnikernelOutputPathField,
    )
    help = softwrap(
        """
        A bootable VM image: one app (plus files), a minimal Linux kernel and a tiny PID 1.

        `pants package` writes a direct-boot bundle directory holding `kernel` (bzImage),
        `initrd` (newc cpio), `cmdline` and `manifest.json` (plus `rootfs.img` with a disk
        root, see `root`); `pants run` boots it with QEMU,
        with the serial console on the terminal, and exits with the app's exit status.
        """
    )


# ---------------------------------------------------------------------------------------------
# unikernel_kernel
# ---------------------------------------------------------------------------------------------


class KernelSourcePackageField(StringField):
    alias = "source_package"
    default = "linux-source-6.1"
    help = softwrap(
        """
        The Debian `linux-source-X.Y` package that holds the kernel's source, as locked in the
        Debian package lock (`3rdparty/debian/debian.lock`, see `[debian-lock]`). Its `.deb` is
        downloaded from `[debian-archive].mirror` and checked against the lock's sha256 and size;
        the kernel version (recorded in manifests) is the upstream part of its Debian version.
        To use another kernel series, add its package to `[debian-lock].packages`, run
        `pants generate-lockfiles --resolve=debian`, and name it here.
        """
    )


class KernelFragmentsField(MultipleSourcesField):
    alias = "fragments"
    expected_file_extensions = (".config",)
    help = softwrap(
        """
        Your Kconfig fragments (`*.config` files with lines like `CONFIG_FOO=y` or
        `# CONFIG_FOO is not set`), applied in order after `tinyconfig` and the plugin's own
        fragments. An option that does not exist, or that Kconfig cannot set because its
        dependencies are missing, fails the build with the file and line.
        """
    )


class KernelIncludeBuiltinFragmentsField(StringSequenceField):
    alias = "builtin_fragments"
    default = ("base", "virtio", "net")
    valid_choices = ("base", "virtio", "net", "disk")
    help = softwrap(
        """
        Which of the plugin's fragments to apply: `base` (64-bit, serial console, initramfs,
        devtmpfs, proc/sys/tmpfs, futex/epoll/eventfd/timerfd/signalfd, PVH boot), `virtio`
        (virtio-pci, virtio-mmio, virtio-blk, virtio-rng) and `net` (unix and IPv4 sockets,
        virtio-net, kernel IP autoconfiguration). `disk` (squashfs and overlayfs for a disk root,
        plus the file locking, madvise and rseq syscalls that glibc runtimes use) is added
        automatically for images with a disk root (`root="disk"`, or a runtime that asks for
        one); list it here to put it in every image's kernel.
        """
    )


class UnikernelKernelTarget(Target):
    alias = "unikernel_kernel"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        KernelSourcePackageField,
        KernelFragmentsField,
        KernelIncludeBuiltinFragmentsField,
    )
    help = softwrap(
        """
        A minimal Linux kernel built from locked source (Debian's `linux-source-X.Y`):
        `tinyconfig` plus the plugin's fragments plus yours. The build is one cached process
        keyed by the source's sha256, the
        merged config and the host toolchain's fingerprint; it is reproducible
        (KBUILD_BUILD_TIMESTAMP/USER/HOST/VERSION pinned).
        """
    )


# ---------------------------------------------------------------------------------------------
# c_program / c_library
# ---------------------------------------------------------------------------------------------


class CSourcesField(MultipleSourcesField):
    expected_file_extensions = (".c", ".h")
    help = softwrap(
        """
        C source files (`.c`) and headers (`.h`). The target's directory is on the include
        path of the target itself and of every target that depends on it, so
        `#include "lib.h"` finds the headers of a `c_library` dependency.
        """
    )


class CProgramSourcesField(CSourcesField):
    required = True


class CLibrarySourcesField(CSourcesField):
    default = ("*.c", "*.h")
    default_glob_match_error_behavior = GlobMatchErrorBehavior.ignore


class CDefinesField(StringSequenceField):
    alias = "defines"
    help = "Preprocessor definitions, e.g. `[\"NDEBUG\", \"PORT=8080\"]` (passed as `-D...`)."


class CCoptsField(StringSequenceField):
    alias = "copts"
    help = "Extra compiler flags, e.g. `[\"-O2\", \"-Wall\"]`."


class CLinkoptsField(StringSequenceField):
    alias = "linkopts"
    help = "Extra linker flags, e.g. `[\"-lm\"]`. Linking is always static against musl."


class CDependenciesField(Dependencies):
    help = "Other `c_library` targets this one uses (their headers and objects)."


class CBinaryNameField(StringField):
    alias = "binary_name"
    help = "Name of the executable; defaults to the target's name."


class CProgramTarget(Target):
    alias = "c_program"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        CProgramSourcesField,
        CDefinesField,
        CCoptsField,
        CLinkoptsField,
        CDependenciesField,
        CBinaryNameField,
    )
    help = softwrap(
        """
        A C program, compiled and statically linked against musl by the Zig toolchain from
        PyPI (`zig cc -target x86_64-linux-musl -static`): no host compiler is used. Depend on
        it from a `unikernel_image` to boot it.
        """
    )


class CLibraryTarget(Target):
    alias = "c_library"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        CLibrarySourcesField,
        CDefinesField,
        CCoptsField,
        CDependenciesField,
    )
    help = "C sources and headers used by `c_program` targets (compiled into a static archive)."


# ---------------------------------------------------------------------------------------------
# java_program / java_jar
# ---------------------------------------------------------------------------------------------

MAVEN_COORDINATE = re.compile(r"^[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-+]+$")


class JavaSourcesField(MultipleSourcesField):
    default = ("**/*.java",)
    expected_file_extensions = (".java",)
    default_glob_match_error_behavior = GlobMatchErrorBehavior.ignore
    help = softwrap(
        """
        Java source files, compiled together by `javac` from the Debian-locked JDK
        (`--release` from `[unikernel-java].release`). Paths are relative to the BUILD file;
        packages follow the directory layout as usual. May be empty when a `java_jar`
        dependency holds the whole app (its manifest's `Main-Class` is then used).
        """
    )


class JavaMainClassField(StringField):
    alias = "main_class"
    help = softwrap(
        """
        The fully qualified class whose `main` method the image runs, e.g. `example.Main`.
        Optional when exactly one `java_jar` dependency names a `Main-Class` in its manifest.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and not re.match(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$", value):
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{cls.alias}` field of {address} is {value!r}, which is not a Java class
                    name. Give the fully qualified name with dots, e.g. `example.Main` (not a
                    file path and without `.class`).
                    """
                )
            )
        return value


class JavaDependenciesField(Dependencies):
    help = "The `java_jar` targets (third-party jars) the program compiles and runs against."


class JdkModulesField(StringSequenceField):
    alias = "jdk_modules"
    default = ()
    help = softwrap(
        """
        JDK modules to put into the image's runtime in addition to those `jdeps` finds, for
        classes loaded only by reflection or by a service loader, e.g.
        `["jdk.crypto.ec", "jdk.localedata", "jdk.zipfs"]`. See docs/java.md.
        """
    )


class JdepsIgnoreMissingDepsField(BoolField):
    alias = "ignore_missing_deps"
    default = False
    help = softwrap(
        """
        Pass `--ignore-missing-deps` to `jdeps`: compute the JDK modules although some classes
        that the app or its jars refer to are on no class path. Needed for jars with optional
        dependencies that are absent (e.g. commons-logging refers to Log4j, Avalon and the
        servlet API, and uses them only when present). Off by default, so that a truly missing
        jar is an error at build time rather than a `NoClassDefFoundError` at run time.
        """
    )


class JavacOptionsField(StringSequenceField):
    alias = "javac_options"
    default = ()
    help = "Extra `javac` options, e.g. `[\"-Xlint:all\", \"-Werror\"]`."


class JvmOptionsField(StringSequenceField):
    alias = "jvm_options"
    default = ()
    help = softwrap(
        """
        Extra JVM options for the image's `java` command, after `[unikernel-java].jvm_options`,
        e.g. `["-Xmx48m", "-Dfile.encoding=UTF-8"]`.
        """
    )


class JavaCdsField(BoolField):
    alias = "cds"
    default = False
    help = softwrap(
        """
        Opt in: dump a class-data sharing archive at build time (`/app/app.jsa`, `java
        -Xshare:dump` by the image's own JVM): the JDK's default class list, the classes of the
        JDK modules the app uses directly and every class of the app's jars, mapped from the
        disk at boot. Measured on testprojects/java/hello_http: 697 -> 473 ms to READY, +4.3 MB.
        Off by default because the archive is NOT reproducible: JDK 17's `-Xshare:dump` output
        depends on thread timing and uninitialised memory (fixed upstream only in JDK 19,
        JDK-8253495), so two builds may cache different archives. See docs/java.md.
        """
    )


class JavaProgramTarget(Target):
    alias = "java_program"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        JavaSourcesField,
        JavaMainClassField,
        JavaDependenciesField,
        JdkModulesField,
        JdepsIgnoreMissingDepsField,
        JavacOptionsField,
        JvmOptionsField,
        JavaCdsField,
    )
    help = softwrap(
        """
        A Java program for a unikernel image: its sources are compiled by the JDK from the
        Debian lock (`javac`, never the host's) into a reproducible jar; `jdeps` finds the JDK
        modules it and its `java_jar` dependencies use and `jlink` builds a minimal runtime of
        exactly those. Depend on it from a `unikernel_image` to boot it. See docs/java.md.
        """
    )


class JavaJarFileField(StringField):
    # A plain path, not a sources field: a `java_jar` with a `coordinate` has no file here, and
    # Pants goals that hydrate every sources field (tailor, filedeps) would reject it. The Java
    # rules read (and watch) the file and report a missing one with the target and the fix.
    alias = "jar"
    help = softwrap(
        """
        A jar file in the repository, relative to the BUILD file, e.g. `libs/gson-2.13.2.jar`.
        Give this or `coordinate`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and (not value.endswith(".jar") or value.startswith("/") or ".." in value.split("/")):
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is {value!r}; it must be the path of a "
                "`.jar` file relative to the BUILD file, inside the repository."
            )
        return value


class JavaJarCoordinateField(StringField):
    alias = "coordinate"
    help = softwrap(
        """
        Maven coordinate `group:artifact:version` of a jar in the local Maven repository
        directory `[unikernel-java].maven_repository` (the standard layout:
        `group/as/dirs/artifact/version/artifact-version.jar`). Give this or `jar`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and not MAVEN_COORDINATE.match(value):
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is {value!r}; it must be a Maven "
                "coordinate `group:artifact:version`, e.g. `com.fasterxml.jackson.core:jackson-core:2.17.2`."
            )
        return value


class JavaJarSha256Field(StringField):
    alias = "sha256"
    required = True
    help = softwrap(
        """
        The jar's sha256 (64 hex digits): the build fails if the file differs. Get it with
        `sha256sum path/to.jar`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> str:
        value = super().compute_value(raw_value, address)
        assert value is not None
        if not re.match(r"^[0-9a-f]{64}$", value):
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is {value!r}; it must be 64 lowercase "
                "hex digits (the output of `sha256sum` on the jar)."
            )
        return value


class JavaJarDependenciesField(Dependencies):
    help = "Other `java_jar` targets this jar needs at run time (added to the class path)."


class JavaJarTarget(Target):
    alias = "java_jar"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        JavaJarFileField,
        JavaJarCoordinateField,
        JavaJarSha256Field,
        JavaJarDependenciesField,
    )
    help = softwrap(
        """
        A prebuilt third-party jar, pinned by sha256: a file in the repository (`jar`) or a
        `coordinate` in the local Maven repository configured as
        `[unikernel-java].maven_repository`. `java_program` targets depend on it; it goes on
        the class path and into the JDK module analysis. Multi-release jars are analysed for
        the image's Java release.
        """
    )

    def validate(self) -> None:
        has_file = self[JavaJarFileField].value is not None
        has_coordinate = self[JavaJarCoordinateField].value is not None
        if has_file == has_coordinate:
            raise InvalidFieldException(
                f"The `java_jar` {self.address} must set exactly one of `jar` (a file in the "
                "repository) and `coordinate` (`group:artifact:version` in "
                "`[unikernel-java].maven_repository`)."
            )


# --- Fields this plugin adds to `pex_binary` ----------------------------------------------------


class UnikernelStdlibField(StringField):
    alias = "unikernel_stdlib"
    default = "full"
    valid_choices = ("imported", "full")
    help = softwrap(
        """
        Which of the standard library a unikernel image of this `pex_binary` holds.
        `full` (the default): the whole trimmed standard library (`[unikernel-python].drop`
        applies). `imported`: only the modules the app can import, found at build time by
        following every `import` statement from the entry point (`modulefinder`: imports in
        functions and `try` blocks count), plus what the interpreter needs to start and print
        tracebacks, and every codec; shared libraries then follow from the C modules kept.
        Modules imported by a computed name (`importlib.import_module(name)`) are not found:
        list them in `unikernel_stdlib_keep`; a module left out fails at run time with
        `ModuleNotFoundError`. Measured on testprojects/python/hello_http: 17.0 -> 13.1 MB of
        rootfs.img.
        """
    )


class UnikernelStdlibKeepField(StringSequenceField):
    alias = "unikernel_stdlib_keep"
    default = ()
    help = softwrap(
        """
        Standard-library modules to keep in the image although no `import` statement names
        them (with `unikernel_stdlib="imported"`), e.g. `["json", "xml.etree.ElementTree"]`.
        """
    )
