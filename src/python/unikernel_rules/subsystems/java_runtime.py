"""`[unikernel-java]`: the JDK that builds Java images and the runtime they boot."""

from __future__ import annotations

from pants.engine.rules import collect_rules
from pants.option.option_types import IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

# Where the image's runtime (the jlink output) and the app live in the guest.
JAVA_HOME = "/opt/java"

# The module whose native libraries headless mode trims, and the property that tells AWT.
DESKTOP_MODULE = "java.desktop"
HEADLESS_PROPERTY = "-Djava.awt.headless=true"

# The native libraries of java.desktop that a headless JVM never loads, each with what it is
# for and the Debian packages it would pull in (libawt.so, libawt_headless.so and
# libmlib_image.so stay: headless AWT, BufferedImage and java.beans need no other library).
HEADLESS_EXCLUDED_LIBRARIES = {
    "libawt_xawt.so": "the X11 display (libX11, libXext, libXrender, libXi, libXtst)",
    "libjawt.so": "the AWT native interface for X11 windows",
    "libsplashscreen.so": "the startup splash screen (X11, GIF, PNG, JPEG)",
    "libjsound.so": "javax.sound (ALSA: libasound)",
    "libfontmanager.so": "font rendering (FreeType, HarfBuzz)",
    "libjavajpeg.so": "ImageIO's JPEG codec (libjpeg)",
    "liblcms.so": "java.awt.color's colour management (Little CMS)",
}


class JavaRuntimeSubsystem(Subsystem):
    options_scope = "unikernel-java"
    help = softwrap(
        """
        Java apps in unikernel images (`java_program`, `java_jar`): the JDK from the Debian
        lock that compiles them and cuts their runtime with `jlink`, and the JVM options the
        image boots with. See docs/java.md.
        """
    )

    jdk_packages = StrListOption(
        default=[
            "openjdk-17-jdk-headless",
            "openjdk-17-jre-headless",
            "libc6",
            "libgcc-s1",
            "libstdc++6",
            "zlib1g",
        ],
        help=softwrap(
            """
            The Debian packages (from the Debian lock) unpacked to run the JDK's tools in the
            sandbox: exactly these, not their whole `Depends` closure (the JRE package depends
            on printing, sound and font libraries that `javac`, `jdeps` and `jlink` never load).
            The jmods that `jlink` reads come from the JDK package.
            """
        ),
    )
    jdk_home = StrOption(
        default="usr/lib/jvm/java-17-openjdk-amd64",
        help="The JDK's directory inside those packages (tree-relative).",
    )
    strip_packages = StrListOption(
        default=["binutils-x86-64-linux-gnu"],
        help=softwrap(
            """
            Debian packages (with their dependencies, from the lock) that provide `strip`, used
            to remove the symbol tables from the runtime's shared libraries (libjvm.so: 24 ->
            20 MB). Empty: no stripping.
            """
        ),
    )
    strip_program = StrOption(
        default="usr/bin/x86_64-linux-gnu-strip",
        help="The `strip` program inside `strip_packages` (tree-relative).",
    )
    release = IntOption(
        default=17,
        help=softwrap(
            """
            The Java release the sources are compiled for (`javac --release`) and multi-release
            jars are analysed for (`jdeps --multi-release`). At most the JDK's version.
            """
        ),
    )
    maven_repository = StrOption(
        default=None,
        help=softwrap(
            """
            A local Maven repository directory (standard layout) inside the build root, e.g.
            `3rdparty/jvm/repository`, where `java_jar(coordinate=...)` targets are found.
            Copy the jars you need from `~/.m2/repository` keeping their paths; each is still
            pinned by its target's `sha256`.
            """
        ),
    )
    jlink_options = StrListOption(
        default=["--strip-java-debug-attributes", "--no-header-files", "--no-man-pages", "--compress=0"],
        help=softwrap(
            """
            Options for `jlink` (besides the module path, modules and output). `--compress=0`
            leaves `lib/modules` uncompressed: the image's compressed disk compresses it better
            than jlink's zip level would, and class loading skips the inflate.
            `--strip-java-debug-attributes`, not `--strip-debug`: on Linux `--strip-debug` also
            runs `objcopy` from PATH on the native libraries, a host tool (the build has no
            PATH); the native libraries are stripped afterwards by the locked binutils' `strip`.
            """
        ),
    )
    service_modules = StrListOption(
        default=["jdk.crypto.ec"],
        help=softwrap(
            """
            JDK modules every Java image's runtime gets besides those `jdeps` finds: service
            providers, which code reaches through a `ServiceLoader` or a security provider list,
            never through a class reference `jdeps` could see. `jdk.crypto.ec` (elliptic-curve
            keys, ECDHE and X25519 key exchange, ~0.1 MB) is what TLS needs to talk to most
            servers: without it an HTTPS client fails with `handshake_failure`. A program leaves
            one out with `exclude_jdk_modules`, or adds others with `jdk_modules`.
            """
        ),
    )
    jvm_options = StrListOption(
        default=[
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",
            "-Xss512k",
            "-XX:ReservedCodeCacheSize=16m",
            "-XX:MaxRAMPercentage=60",
        ],
        help=softwrap(
            """
            JVM options of every Java image, before the `java_program`'s own `jvm_options`.
            The defaults suit a small single-CPU VM: the serial collector, the C1 compiler only
            (fast warm-up), no hsperfdata file, small thread stacks and code cache, and a heap
            of at most 60% of the VM's memory.
            """
        ),
    )
    headless_excluded_libraries = StrListOption(
        default=sorted(HEADLESS_EXCLUDED_LIBRARIES),
        help=softwrap(
            """
            The native libraries of the `java.desktop` module removed from the runtime of a
            headless `java_program` (the default, `headless=True`): the X11 display, the splash
            screen, sound, fonts, the JPEG codec and colour management, which need X11, ALSA,
            FreeType and other Debian packages and which a server never loads. The JVM then runs
            with `-Djava.awt.headless=true`. Remove a name to keep that library (and add the
            Debian packages it needs to the program's `debian_packages`).
            """
        ),
        advanced=True,
    )
    cds_heap = StrOption(
        default="128m",
        help=softwrap(
            """
            `-Xmx` used while dumping the CDS archive at build time. Fixed, so that the archive
            does not depend on the build machine's memory (reproducibility).
            """
        ),
    )



def rules():
    return collect_rules()
