"""The `java_program` and `java_jar` targets and their fields."""

from __future__ import annotations

import re
from typing import Optional

from pants.engine.addresses import Address
from pants.option.global_options import GlobMatchErrorBehavior
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    BoolField,
    InvalidFieldException,
    MultipleSourcesField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import softwrap

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


class JdkModulesExcludeField(StringSequenceField):
    alias = "exclude_jdk_modules"
    default = ()
    help = softwrap(
        """
        JDK modules to leave out of the image's runtime although `jdeps` finds them, for
        modules only code paths the app never takes use (e.g. `["java.desktop"]` for a library
        whose optional GUI is never started). A class of an excluded module then fails with
        `NoClassDefFoundError` at run time, and the build warns. A module that another linked
        module requires cannot be excluded (an error names them). See docs/java.md.
        """
    )


class JavaHeadlessField(BoolField):
    alias = "headless"
    default = True
    help = softwrap(
        """
        When the runtime has `java.desktop` (java.beans, AWT, Swing, ImageIO, javax.sound; many
        JDBC drivers and libraries use it), link it headless: the native libraries for the
        X11 display, sound and fonts (`[unikernel-java].headless_excluded_libraries`) are left
        out, so no X11, ALSA or font Debian packages are needed, and the JVM runs with
        `-Djava.awt.headless=true`. Set `headless=False` for a program that really opens
        windows, plays sound or renders text: every library is kept and the Debian packages
        they need must be listed in `debian_packages` (the build lists them).
        """
    )


class JavaDebianPackagesField(StringSequenceField):
    alias = "debian_packages"
    default = ()
    help = softwrap(
        """
        Debian packages from the Debian lock whose shared libraries this program needs: a jar's
        JNI or JNA library, or the X11/sound/font libraries of a non-headless runtime, e.g.
        `["libfreetype6"]`. Every shared library of these packages goes into the image with the
        libraries it needs (from their locked dependencies). A package must be in the Debian
        lock: list it in `[debian-lock].packages` (so that re-locking keeps it even if nothing
        else depends on it), then run `pants generate-lockfiles --resolve=debian`.
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
        JdkModulesExcludeField,
        JavaHeadlessField,
        JavaDebianPackagesField,
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
