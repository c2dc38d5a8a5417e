"""What every runtime (c, python, java) gives the image rules: files for the rootfs + a command.

A runtime registers a subclass of `UnikernelAppFieldSet` (a union member) and a rule
`FieldSetSubclass -> UnikernelApp`. The image rules never import a runtime module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Tuple

from pants.engine.environment import EnvironmentName
from pants.engine.fs import Digest
from pants.engine.target import FieldSet
from pants.engine.unions import union
from pants.util.frozendict import FrozenDict

from unikernel_rules.sbom.api import Provenance

# RAM the minimal kernel needs besides the initramfs (measured: see docs/benchmarks.md).
KERNEL_MEMORY_BASE_MIB = 16
# With a disk root the initramfs is tiny, but the kernel is bigger (the `disk` fragment's code
# pushes its text past a 2 MiB alignment boundary: +2 MiB), and squashfs's block caches, the
# overlay and the page cache of the files the app reads need RAM. Measured: a C app on a disk
# root boots at 18 MiB, and so does one that reads a whole 40 MB CPython stdlib from the disk
# (the page cache is reclaimable, so the floor does not grow with the image); 2 MiB of margin.
# Runtimes with big working sets (CPython, the JVM heap) need more `memory` for themselves.
DISK_ROOT_MEMORY_BASE_MIB = 20

APP_DIR = "app"  # the app's files live under /app in the guest, its default working directory


@union(in_scope_types=[EnvironmentName])
@dataclass(frozen=True)
class UnikernelAppFieldSet(FieldSet):
    """A target that a `unikernel_image` can boot."""

    runtime: ClassVar[str]


@dataclass(frozen=True)
class UnikernelApp:
    runtime: str
    # Files of the guest's root filesystem, at their guest paths (without the leading `/`).
    digest: Digest
    # The default command: program path (absolute, in the guest) first.
    command: Tuple[str, ...]
    env: FrozenDict[str, str] = FrozenDict()
    workdir: str = "/" + APP_DIR
    # Where the files go: "initramfs" (unpacked into RAM at boot; small apps) or "disk" (a
    # read-only squashfs `rootfs.img` under a tmpfs overlay; big runtimes). The image's `root`
    # field overrides it.
    root: str = "initramfs"
    # The disk root's squashfs compressor ("lz4" | "zstd"); the image's `disk_compression`
    # field overrides it.
    disk_compression: str = "lz4"
    # RAM (MiB) the runtime itself needs on top of the kernel and its root filesystem, for the
    # image's memory estimate (manifest "memory_needed_mib", init's and the build's messages).
    memory_mib: int = 0
    # RAM (MiB, the whole VM) a typical workload of the app runs well in: what an image whose
    # `memory` is "auto" gets (0: the runtime has no opinion, the image's fixed default applies).
    typical_memory_mib: int = 0
    # What the runtime decided, for the bundle's manifest.json ("app"): e.g. the JDK modules.
    info: FrozenDict[str, str] = FrozenDict()
    # Where the runtime reads CA certificates as a Java key store (guest path without the leading
    # `/`), or "": the image's CA certificates (the PEM bundle's) are written there too.
    java_trust_store: str = ""
    # Where the files came from (Debian packages, PyPI distributions, jars, the app's sources),
    # for the image's SBOM (sbom/).
    provenance: Provenance = Provenance()
