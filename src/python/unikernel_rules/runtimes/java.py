"""The Java runtime: a `java_program` (+ `java_jar`s) -> app jar + a jlink runtime of exactly the
JDK modules it uses, on a read-only disk.

Every JDK tool (javac, jar, jdeps, jlink, java for the CDS dump) comes from the Debian lock and
runs in the sandbox through the JDK tree's own dynamic loader; the host's JDK is never used.
Cached processes, each rebuilt only when its own inputs change:
  1. build (java_build.py): javac -> a reproducible jar, the main class, `jdeps` -> modules;
  2. runtime (java_jre.py): jlink of those modules, strip, CDS archive -- keyed by the module
     list and options only, so an app change that keeps the modules reuses it;
  3. the runtime's shared libraries (glibc, libstdc++, zlib) by ELF closure from the lock.
Boot runs `/opt/java/bin/java <jvm options> -cp /app/app.jar:/app/lib/... <main class>`.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from typing import List, Tuple

from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.fs import (
    EMPTY_DIGEST,
    AddPrefix,
    CreateDigest,
    Digest,
    DigestEntries,
    DigestSubset,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
    Snapshot,
)
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    InvalidFieldException,
    TransitiveTargets,
    TransitiveTargetsRequest,
)
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from unikernel_rules.debian.rules import DebianPackagesRequest, DebianTree, debian_binary_argv, debian_loader_argv
from unikernel_rules.rootfs.layer_rules import (
    RUNTIME_LAYER_MARKER,
    LayerBuildError,
    NativeLibraries,
    NativeLibrariesRequest,
    outputs_and_report,
    run_tool_script,
    tool_errors,
)
from unikernel_rules.runtimes.api import APP_DIR, UnikernelApp, UnikernelAppFieldSet
from unikernel_rules.runtimes import java_jars
from unikernel_rules.runtimes.java_jars import JavaJar, JavaJarRequest
from unikernel_rules.sbom.api import JarOrigin, Provenance
from unikernel_rules.runtimes.java_native import (
    excluded_but_used,
    headless_libraries,
    locked_debian_packages,
    missing_libraries_error,
    program_packages,
)
from unikernel_rules.subsystems.debian_tools import DebianTools
from unikernel_rules.subsystems.java_runtime import (
    DESKTOP_MODULE,
    HEADLESS_PROPERTY,
    JAVA_HOME,
    JavaRuntimeSubsystem,
)
from unikernel_rules.target_types import (
    JavaCdsField,
    JavaDebianPackagesField,
    JavaHeadlessField,
    JavacOptionsField,
    JavaDependenciesField,
    JavaJarSha256Field,
    JavaMainClassField,
    JavaSourcesField,
    JdepsIgnoreMissingDepsField,
    JdkModulesExcludeField,
    JdkModulesField,
    JvmOptionsField,
)

logger = logging.getLogger(__name__)

JAVA_ERROR = "UNIKERNEL_JAVA_ERROR"
JDK_DIR = "jdk"  # where the JDK tree sits in the sandbox


@dataclass(frozen=True)
class JavaAppFieldSet(UnikernelAppFieldSet):
    runtime = "java"
    required_fields = (JavaSourcesField,)

    sources: JavaSourcesField
    main_class: JavaMainClassField
    dependencies: JavaDependenciesField
    jdk_modules: JdkModulesField
    exclude_jdk_modules: JdkModulesExcludeField
    headless: JavaHeadlessField
    debian_packages: JavaDebianPackagesField
    ignore_missing_deps: JdepsIgnoreMissingDepsField
    javac_options: JavacOptionsField
    jvm_options: JvmOptionsField
    cds: JavaCdsField


# ---------------------------------------------------------------------------------------------
# The JDK (tools) from the Debian lock
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JdkRequest:
    description_of_origin: str


@dataclass(frozen=True)
class Jdk:
    tree: DebianTree
    digest: Digest  # the tree under JDK_DIR/
    tree_home: str  # the JDK in the tree, e.g. "usr/lib/jvm/java-17-openjdk-amd64"
    modules: Tuple[str, ...]  # the modules it has jmods of
    strip: Digest  # binutils' tree under "strip/", or empty
    strip_argv: Tuple[str, ...]

    @property
    def home(self) -> str:
        """The JDK's sandbox path (the tree at JDK_DIR)."""
        return f"{JDK_DIR}/{self.tree_home}"

    def tool(self, name: str) -> Tuple[str, ...]:
        return debian_binary_argv(JDK_DIR, posixpath.join(self.tree_home, "bin", name))


@rule(desc="Unpack the JDK from the Debian lock", level=LogLevel.DEBUG)
async def unpack_jdk(request: JdkRequest, subsystem: JavaRuntimeSubsystem) -> Jdk:
    tree, strip_tree = await MultiGet(
        Get(
            DebianTree,
            DebianPackagesRequest(
                tuple(subsystem.jdk_packages), request.description_of_origin, with_dependencies=False
            ),
        ),
        Get(DebianTree, DebianPackagesRequest(tuple(subsystem.strip_packages), "`strip` for Java runtimes")),
    )
    home = subsystem.jdk_home.strip("/")
    digest, strip, jmods = await MultiGet(
        Get(Digest, AddPrefix(tree.digest, JDK_DIR)),
        Get(Digest, AddPrefix(strip_tree.digest, "strip")),
        Get(Snapshot, DigestSubset(tree.digest, PathGlobs([f"{home}/jmods/*.jmod"]))),
    )
    if not jmods.files:
        raise LayerBuildError(
            f"The Debian packages `[unikernel-java].jdk_packages` ({', '.join(subsystem.jdk_packages)}) "
            f"have no jmods under `{home}/jmods` (`[unikernel-java].jdk_home`): jlink needs a "
            "full JDK package such as `openjdk-17-jdk-headless`."
        )
    modules = tuple(sorted(posixpath.basename(f)[: -len(".jmod")] for f in jmods.files))
    strip_argv = debian_binary_argv("strip", subsystem.strip_program) if subsystem.strip_packages else ()
    return Jdk(
        tree=tree,
        digest=digest,
        tree_home=home,
        modules=modules,
        strip=strip if subsystem.strip_packages else EMPTY_DIGEST,
        strip_argv=strip_argv,
    )


# ---------------------------------------------------------------------------------------------
# The runtime: jlink + strip + CDS
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JavaRuntimeRequest:
    modules: Tuple[str, ...]  # sorted
    # Headless mode: file names removed from the runtime's lib/ (sorted; empty: keep all).
    exclude_libraries: Tuple[str, ...] = ()
    # `exclude_jdk_modules`: an error if jlink links one anyway (another module requires it).
    exclude_modules: Tuple[str, ...] = ()
    program: str = ""  # for errors only (not in the process: runtimes are shared by programs)


@dataclass(frozen=True)
class JavaRuntime:
    digest: Digest  # at guest paths (opt/java/...)
    elf: Tuple[str, ...]  # guest paths of its ELF files
    bytes: int
    excluded_libraries: Tuple[str, ...] = ()  # removed from lib/ (headless)


# Each process ships only its own script: a change to one does not invalidate the other's cache.
_MAIN = ("unikernel_rules.runtimes", "sandbox_script.py")
BUILD_SCRIPT = (("unikernel_rules.runtimes", "java_build.py"), _MAIN)
JRE_SCRIPT = (("unikernel_rules.runtimes", "java_jre.py"), _MAIN)


@rule(desc="Link a Java runtime", level=LogLevel.DEBUG)
async def link_java_runtime(
    request: JavaRuntimeRequest, subsystem: JavaRuntimeSubsystem, tools: DebianTools
) -> JavaRuntime:
    jdk = await Get(Jdk, JdkRequest("the Java runtime"))
    inputs = await Get(Digest, MergeDigests([jdk.digest, jdk.strip]))
    spec = {
        "mode": "link",
        "jlink": list(jdk.tool("jlink")),
        "module_path": f"{jdk.home}/jmods",
        "modules": list(request.modules),
        "options": list(subsystem.jlink_options),
        "out": "out",
        "home": JAVA_HOME.lstrip("/"),
        "strip": list(jdk.strip_argv),
        "report": "report/jre.json",
    }
    # Only when set: the spec is the process's cache key, unchanged for runtimes without them.
    if request.exclude_libraries:
        spec["exclude_libraries"] = list(request.exclude_libraries)
    if request.exclude_modules:
        spec["exclude_modules"] = list(request.exclude_modules)
        spec["jmod"] = list(jdk.tool("jmod"))
    result = await run_tool_script(
        tools,
        "java_jre.py",
        spec,
        inputs,
        ("out", "report"),
        f"Linking a Java {RUNTIME_LAYER_MARKER} the JDK's modules {','.join(request.modules)}",
        level=LogLevel.INFO,
        scripts=JRE_SCRIPT,
    )
    if result.exit_code == 3:
        errors = tool_errors(result, JAVA_ERROR)
        if 'Cannot run program "objcopy"' in errors:
            errors += (
                "\n\njlink's --strip-debug (or --strip-native-debug-symbols) runs objcopy from "
                "PATH, and the build's processes have no host PATH. Use "
                "--strip-java-debug-attributes in `[unikernel-java].jlink_options` instead: the "
                "runtime's native libraries are stripped by the locked binutils anyway."
            )
        raise InvalidFieldException(
            f"Linking the Java runtime of {request.program} ({', '.join(request.modules)}) failed:\n"
            + errors
        )
    if result.exit_code != 0:
        raise LayerBuildError(
            f"Linking the Java runtime ({', '.join(request.modules)}) failed:\n"
            + tool_errors(result, JAVA_ERROR)
        )
    runtime, report = await outputs_and_report(result.output_digest, "report/jre.json")
    return JavaRuntime(
        digest=runtime,
        elf=tuple(report["elf"]),
        bytes=report["bytes"],
        excluded_libraries=tuple(report.get("excluded_libraries", ())),
    )


CDS_ARCHIVE = "app.jsa"  # in the guest's /app
TRUST_STORE = f"{JAVA_HOME.lstrip('/')}/lib/security/cacerts"  # the JVM's default trust store


@dataclass(frozen=True)
class JavaCdsRequest:
    root: Digest  # the guest's files: runtime, libraries, app (at app/)
    classpath: Tuple[str, ...]  # relative to /app
    jmods: Digest  # the jmods (at jmods/) of the JDK modules but java.base the app uses directly
    program: str  # for messages


@rule(desc="Dump a Java app's CDS archive", level=LogLevel.DEBUG)
async def dump_java_cds(request: JavaCdsRequest, subsystem: JavaRuntimeSubsystem, tools: DebianTools) -> Digest:
    root, jmods = await MultiGet(
        Get(Digest, AddPrefix(request.root, "root")), Get(Snapshot, Digest, request.jmods)
    )
    spec = {
        "mode": "cds",
        "root": "root",
        "home": JAVA_HOME.lstrip("/"),
        "app": APP_DIR,
        "classpath": list(request.classpath),
        "jmods": list(jmods.files),
        "archive": CDS_ARCHIVE,
        # Run from root/app: the guest's own loader and libraries.
        "loader": list(debian_loader_argv("..")),
        # The serial collector archives no heap objects (whose layout varies from run to run
        # under G1) and a fixed -Xmx keeps the build machine's RAM out: byte-identical archives.
        "options": ["-XX:+UseSerialGC", f"-Xmx{subsystem.cds_heap}", f"-Xms{subsystem.cds_heap}"],
        "out": "out",
        "report": "report/cds.json",
    }
    result = await run_tool_script(
        tools,
        "java_jre.py",
        spec,
        await Get(Digest, MergeDigests([root, jmods.digest])),
        ("out", "report"),
        f"Dumping the CDS archive of {request.program}",
        scripts=JRE_SCRIPT,
    )
    if result.exit_code != 0:
        raise LayerBuildError(
            f"Dumping the CDS archive of {request.program} failed (set `cds=False` on it to "
            "skip the archive):\n" + tool_errors(result, JAVA_ERROR)
        )
    archive, _ = await outputs_and_report(result.output_digest, "report/cds.json")
    return await Get(Digest, AddPrefix(archive, APP_DIR))


# ---------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------


def _check_modules(field_set: JavaAppFieldSet, jdk: Jdk, service_modules: Tuple[str, ...]) -> None:
    unknown = [m for m in service_modules if m not in jdk.modules]
    if unknown:
        raise InvalidFieldException(
            f"`[unikernel-java].service_modules` names {', '.join(unknown)}, which the JDK does "
            f"not have (building {field_set.address}). Its modules are: {', '.join(jdk.modules)}."
        )
    for field in (field_set.jdk_modules, field_set.exclude_jdk_modules):
        unknown = [m for m in field.value or () if m not in jdk.modules]
        if unknown:
            raise InvalidFieldException(
                softwrap(
                    f"""
                    The `{field.alias}` field of {field_set.address} names {', '.join(unknown)},
                    which the JDK does not have. Its modules are: {', '.join(jdk.modules)}.
                    """
                )
            )
    both = sorted(set(field_set.jdk_modules.value or ()) & set(field_set.exclude_jdk_modules.value or ()))
    if both:
        raise InvalidFieldException(
            f"{field_set.address} names {', '.join(both)} both in `jdk_modules` and in "
            "`exclude_jdk_modules`; keep it in one of them."
        )


@rule(desc="Build a Java app for a unikernel image", level=LogLevel.DEBUG)
async def build_java_app(
    field_set: JavaAppFieldSet, subsystem: JavaRuntimeSubsystem, tools: DebianTools
) -> UnikernelApp:
    address = field_set.address
    jdk, sources, transitive = await MultiGet(
        Get(Jdk, JdkRequest(f"the Java program {address}")),
        Get(SourceFiles, SourceFilesRequest([field_set.sources])),
        Get(TransitiveTargets, TransitiveTargetsRequest([address])),
    )
    _check_modules(field_set, jdk, tuple(subsystem.service_modules))
    debian_packages = tuple(field_set.debian_packages.value or ())
    await locked_debian_packages(address, debian_packages)
    jar_targets = [t for t in transitive.dependencies if t.has_field(JavaJarSha256Field)]
    jars: List[JavaJar] = list(await MultiGet(Get(JavaJar, JavaJarRequest(t)) for t in jar_targets))
    names = {}
    for jar in jars:
        if jar.name in names:
            raise InvalidFieldException(
                f"{address} depends on two jars with the same file name `{jar.name}`: "
                f"{names[jar.name]} and {jar.label}. Keep one of them."
            )
        names[jar.name] = jar.label
    jars.sort(key=lambda j: j.name)

    spec = {
        "javac": list(jdk.tool("javac")),
        "jar": list(jdk.tool("jar")),
        "jdeps": list(jdk.tool("jdeps")),
        "sources": sorted(sources.snapshot.files),
        "jars": [{"path": j.path, "name": j.name, "label": j.label} for j in jars],
        "release": subsystem.release,
        "javac_options": list(field_set.javac_options.value or ()),
        "main_class": field_set.main_class.value,
        "ignore_missing_deps": field_set.ignore_missing_deps.value,
        "program": str(address),
        "out": "out",
        "report": "report/build.json",
    }
    inputs = await Get(Digest, MergeDigests([jdk.digest, sources.snapshot.digest, *(j.digest for j in jars)]))
    result = await run_tool_script(
        tools,
        "java_build.py",
        spec,
        inputs,
        ("out", "report"),
        f"Compiling {address} for its unikernel image (javac, jar, jdeps)",
        scripts=BUILD_SCRIPT,
    )
    if result.exit_code == 3:
        raise InvalidFieldException(tool_errors(result, JAVA_ERROR))
    if result.exit_code != 0:
        raise LayerBuildError(f"Building {address} failed:\n" + tool_errors(result, JAVA_ERROR))
    app_files, report = await outputs_and_report(result.output_digest, "report/build.json")

    excluded = tuple(sorted(field_set.exclude_jdk_modules.value or ()))
    used_but_excluded = excluded_but_used(report["modules"], excluded)
    if used_but_excluded:
        logger.warning(
            f"{address}: `exclude_jdk_modules` leaves out {', '.join(used_but_excluded)}, which "
            "jdeps found the program or its jars use: a class of it that runs fails with "
            "NoClassDefFoundError. Remove it from `exclude_jdk_modules` if the app needs it."
        )
    modules = tuple(
        sorted(
            (set(report["modules"]) | set(subsystem.service_modules) | set(field_set.jdk_modules.value or ()))
            - set(excluded)
        )
    )
    headless = bool(field_set.headless.value)
    no_gui = headless_libraries(headless, modules, subsystem.headless_excluded_libraries)
    own, runtime = await MultiGet(
        Get(Digest, AddPrefix(app_files, APP_DIR)),
        Get(JavaRuntime, JavaRuntimeRequest(modules, no_gui, excluded, program=str(address))),
    )
    packages = await program_packages(jdk.tree, debian_packages, f"the `debian_packages` field of {address}")
    app_and_libs = await Get(Digest, MergeDigests([runtime.digest, packages.libraries]))
    libraries = await Get(
        NativeLibraries,
        NativeLibrariesRequest(
            tree=packages.tree,
            app=app_and_libs,
            roots=(*runtime.elf, *packages.roots),
            layer_files=(),
            description_of_origin=f"the Java runtime of {address}",
            extra_packages_option=f"the `debian_packages` field of {address}",
            raise_on_missing=False,
        ),
    )
    if libraries.missing:
        raise LayerBuildError(
            missing_libraries_error(address, libraries.missing, headless, DESKTOP_MODULE in modules)
        )
    app = own
    digest = await Get(Digest, MergeDigests([app_and_libs, libraries.digest, app]))
    # Relative to the working directory /app: the CDS archive records the class path as given.
    classpath = ":".join(report["classpath"])
    cds_options: Tuple[str, ...] = ()
    if field_set.cds.value:
        used = [m for m in report["modules"] if m != "java.base"]
        jmods = EMPTY_DIGEST
        if used:
            subset = await Get(
                Digest, DigestSubset(jdk.tree.digest, PathGlobs([f"{jdk.tree_home}/jmods/{m}.jmod" for m in used]))
            )
            jmods = await Get(Digest, RemovePrefix(subset, jdk.tree_home))
        archive = await Get(Digest, JavaCdsRequest(digest, tuple(report["classpath"]), jmods, str(address)))
        digest = await Get(Digest, MergeDigests([digest, archive]))
        cds_options = (f"-XX:SharedArchiveFile=/{APP_DIR}/{CDS_ARCHIVE}",)
    # The JDK's own `cacerts` gives way to the image's CA certificates (Debian's bundle and the
    # image's local ones, rootfs/guest.py), written at the same path when the image has them.
    entries = await Get(DigestEntries, Digest, digest)
    digest = await Get(Digest, CreateDigest([e for e in entries if e.path != TRUST_STORE]))
    command = (
        f"{JAVA_HOME}/bin/java",
        *subsystem.jvm_options,
        *((HEADLESS_PROPERTY,) if no_gui else ()),
        *cds_options,
        *(field_set.jvm_options.value or ()),
        "-cp",
        classpath,
        report["main_class"],
    )
    return UnikernelApp(
        runtime=JavaAppFieldSet.runtime,
        digest=digest,
        command=command,
        env=FrozenDict({"JAVA_HOME": JAVA_HOME}),
        info=FrozenDict(
            {
                "main_class": report["main_class"],
                "classpath": classpath,
                "workdir": f"/{APP_DIR}",
                "jdk_modules": ",".join(modules),
                "cds": "yes" if field_set.cds.value else "no",
                "headless": "yes" if no_gui else "no",
                "excluded_libraries": ",".join(runtime.excluded_libraries),
                "debian_packages": ",".join(debian_packages),
            }
        ),
        # The JVM + modules + CDS are ~60 MB unpacked: a read-only squashfs disk, read lazily.
        root="disk",
        java_trust_store=TRUST_STORE,
        # The JVM's heap, metaspace, code cache and the CDS archive's written pages: the
        # estimate is 20 (disk root) + 26 = 46 MiB. Measured floors: hello_http 45-46 MiB
        # (docs/benchmarks.md); the H2 server (9 JDK modules with java.desktop, a 2.6 MB jar,
        # serving its console page) 43 MiB (2026-12-01, by hand; 42 fails).
        memory_mib=26,
        # The jlink runtime is generated from the JDK's jmods; its shared libraries are copied
        # from the locked packages; app.jar (and its CDS archive) from the program's sources.
        provenance=Provenance(
            debian=(*jdk.tree.packages, *packages.tree.packages),
            derived=FrozenDict({JAVA_HOME.strip("/") + "/": subsystem.jdk_packages[0]}),
            jars=tuple(JarOrigin(f"{APP_DIR}/lib/{j.name}", j.coordinate, j.sha256, j.label) for j in jars),
            sources=sources.snapshot.digest,
            built_from_sources=tuple(
                f"{APP_DIR}/{name}" for name in ("app.jar", *((CDS_ARCHIVE,) if field_set.cds.value else ()))
            ),
        ),
    )


def rules():
    return (*collect_rules(), *java_jars.rules(), UnionRule(UnikernelAppFieldSet, JavaAppFieldSet))
