"""What a benchmark run measured: plain data, filled by measure.py, read by render*.py."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from benchmarks.settings import ImageSettings
from unikernel_rules.rootfs.layer_rules import RUNTIME_LAYER_MARKER

COMMAND = "./pants run tests/benchmarks:report"

FLOOR_LOWER_MIB = 8
FLOOR_UPPER_MIB = 4096
FLOOR_BOOT_TIMEOUT_S = 60.0
READY_BOOT_TIMEOUT_S = 180.0
SKIP_TAG = "no-benchmark"
SKIP_DIRS = ("testprojects/bad",)

KERNEL_PROCESS_MARKER = "Building the Linux"

# Disk-root images are booted for READY a second time with this extra kernel parameter: the
# guest busy-polls instead of idling, so icount does not warp virtual time to the next timer
# tick while the guest waits for a virtio-blk read (see "Method"). A measurement setting only.
IDLE_POLL_PARAM = "idle=poll"

# The app's main source file is the first (sorted) file with these extensions in `filedeps`
# of the image's direct dependencies, preferring files in the image's directory.
SOURCE_EXTENSIONS: Dict[str, Tuple[str, ...]] = {
    "c": (".c",),
    "python": (".py",),
    "java": (".java",),
}

# --------------------------------------------------------------------------------------------
# Results


@dataclasses.dataclass
class Probe:
    memory_mib: int
    ok: bool
    detail: str = ""


@dataclasses.dataclass
class FloorResult:
    floor_mib: Optional[int]  # None: no size up to the upper bound worked
    probes: List[Probe] = dataclasses.field(default_factory=list)
    confirmed: Optional[bool] = None  # a second boot at the floor succeeded too
    error: Optional[str] = None

    def below(self) -> Optional[Probe]:
        """The failed probe closest below the floor."""
        if self.floor_mib is None:
            return None
        fails = [p for p in self.probes if not p.ok and p.memory_mib < self.floor_mib]
        return max(fails, key=lambda p: p.memory_mib) if fails else None


@dataclasses.dataclass
class ReadyResult:
    """The boots of one "time to ready" (or "time to exit") measurement, one entry per boot."""

    virtual_ms: List[Optional[float]] = dataclasses.field(default_factory=list)
    wall_s: List[Optional[float]] = dataclasses.field(default_factory=list)
    http_status: List[Optional[int]] = dataclasses.field(default_factory=list)
    errors: List[str] = dataclasses.field(default_factory=list)
    # Per boot: the ready line matched (or, until exit, the app exited with status 0), whether
    # or not a virtual time came with it.
    reached: List[bool] = dataclasses.field(default_factory=list)
    until_exit: bool = False

    @property
    def event(self) -> str:
        return "exit" if self.until_exit else "READY"

    @property
    def reached_without_clock(self) -> bool:
        """Every boot got there, but none reported a virtual time (the pattern has no group, or
        init printed no clock at exit)."""
        return bool(self.reached) and all(self.reached) and all(v is None for v in self.virtual_ms)

    @property
    def ms(self) -> Optional[float]:
        """The slowest boot's virtual ms."""
        vals = [v for v in self.virtual_ms if v is not None]
        return max(vals) if vals else None

    @property
    def spread_ms(self) -> Optional[float]:
        vals = [v for v in self.virtual_ms if v is not None]
        return max(vals) - min(vals) if len(vals) > 1 else None

    @property
    def deterministic(self) -> Optional[bool]:
        """True if every boot gave the same virtual ms; None if fewer than two boots did."""
        if len(self.virtual_ms) < 2 or any(v is None for v in self.virtual_ms):
            return None
        return len(set(self.virtual_ms)) == 1


@dataclasses.dataclass
class RebuildResult:
    mode: str  # "fresh" (new Pants process, no pantsd) or "pantsd"
    edited: str = ""
    wall_s: Optional[float] = None
    noop_wall_s: Optional[float] = None  # `package` again without a change (Pants overhead)
    start_wall_s: Optional[float] = None  # pantsd: the run that started it
    completed: List[str] = dataclasses.field(default_factory=list)  # INFO `Completed:` lines
    # Every process that ran (local cache misses, `--stats-log`): debug-level ones included.
    processes_run: Optional[int] = None
    error: Optional[str] = None

    @property
    def kernel_rebuilt(self) -> Optional[bool]:
        if self.wall_s is None:
            return None
        return any(KERNEL_PROCESS_MARKER in c for c in self.completed)

    @property
    def runtime_layer_rebuilt(self) -> Optional[bool]:
        """True if the runtime layer (e.g. CPython from Debian packages) was built in the rebuild."""
        if self.wall_s is None:
            return None
        return any(RUNTIME_LAYER_MARKER in c for c in self.completed)


@dataclasses.dataclass
class ImageReport:
    address: str
    runtime: str = "?"
    manifest: Dict[str, Any] = dataclasses.field(default_factory=dict)
    sizes: Dict[str, int] = dataclasses.field(default_factory=dict)  # kernel, initrd, [rootfs.img], total
    ready: Optional[ReadyResult] = None  # plain icount
    ready_poll: Optional[ReadyResult] = None  # icount + idle=poll (disk-root images only)
    floor: Optional[FloorResult] = None
    rebuilds: List[RebuildResult] = dataclasses.field(default_factory=list)
    error: Optional[str] = None
    settings: ImageSettings = ImageSettings()

    def rebuild(self, mode: str) -> Optional[RebuildResult]:
        for r in self.rebuilds:
            if r.mode == mode:
                return r
        return None

    @property
    def disk_root(self) -> bool:
        return root_kind(self.manifest) == "disk"

    @property
    def goal_ready(self) -> Optional[ReadyResult]:
        """The READY measurement the goal is checked against: with `idle=poll` for a disk root
        (plain icount counts an artifact there), plain icount otherwise."""
        return self.ready_poll if self.disk_root else self.ready


def root_kind(manifest: Dict[str, Any]) -> str:
    """The manifest's `root.kind`: "initramfs" (also for manifests without a root block) or "disk"."""
    root = manifest.get("root")
    kind = root.get("kind") if isinstance(root, dict) else None
    return str(kind) if kind else "initramfs"


@dataclasses.dataclass
class Machine:
    nproc: int
    cpu_model: str
    qemu: str
    kvm: str
    python: str = ""
    pants: str = ""
    load_before: str = ""  # /proc/loadavg 1/5/15-minute averages
    load_after: str = ""
    pants_startup_s: Optional[float] = None  # a fresh Pants process that only reads BUILD files

