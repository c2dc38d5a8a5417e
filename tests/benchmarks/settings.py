"""How each image is measured (its `benchmark` field, overridden by the command line) and the
goals some images are checked against."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

DEFAULT_READY = r"READY.*?monotonic_ms=([0-9.]+)"
FIELD = "benchmark"  # the unikernel_image field (target_types/image.py: UnikernelBenchmarkField)
FIELD_KEYS = ("ready", "until", "http_path", "edit")
UNTIL_VALUES = ("ready", "exit")
NO_HTTP = "none"

# The line init prints when it reports the app's exit status (init/log.c, power_off()), and the
# clock line that, when init prints it before, gives the virtual ms to exit (see
# exit_virtual_ms). Group 1: milliseconds of CLOCK_MONOTONIC.
EXIT_CLOCK_RE = r"UNIKERNEL_EXIT_MONOTONIC_MS=([0-9.]+)"


class SettingsError(Exception):
    """A bad `benchmark` field or command-line override: one paragraph naming the target and the fix."""


@dataclasses.dataclass(frozen=True)
class ImageSettings:
    """How to measure one image.

    until: "ready" (a server: boot until a line matches `ready`) or "exit" (a batch app: boot
    until it exits, with status 0).
    ready: a regex searched in each console line; group 1, if any, is the app's own virtual ms.
    http_path: the path to GET on the image's first port once ready (None: no HTTP check).
    edit: the source file the warm-rebuild measurement edits (None: found from the app).
    source: where the settings came from, for the report ("default", "field", "command line").
    """

    until: str = "ready"
    ready: str = DEFAULT_READY
    http_path: Optional[str] = "/"
    edit: Optional[str] = None
    source: str = "default"

    @property
    def until_exit(self) -> bool:
        return self.until == "exit"

    @property
    def reports_clock(self) -> bool:
        """True if the app's ready line carries its own clock (the pattern has a group)."""
        return re.compile(self.ready).groups >= 1

    def describe(self, has_port: bool = True) -> str:
        """One line for the report: how readiness was decided (`has_port`: the image forwards one)."""
        if self.until_exit:
            what = "to its exit (a batch app; status 0 required; no ports forwarded)"
        else:
            what = f"to ready: a line matching `{self.ready}`"
            if not self.reports_clock:
                what += " (no group: the app does not print its clock)"
            if has_port:
                what += "; " + ("no HTTP check" if self.http_path is None else f"`GET {self.http_path}` must answer 200")
        return f"{what} (settings from the {self.source})"


@dataclasses.dataclass(frozen=True)
class Overrides:
    """Command-line overrides: per address, or for every image under the key "*"."""

    ready: Mapping[str, str] = dataclasses.field(default_factory=dict)
    until_exit: Sequence[str] = ()
    http_path: Mapping[str, str] = dataclasses.field(default_factory=dict)
    edit: Mapping[str, str] = dataclasses.field(default_factory=dict)


ALL = "*"
_ADDRESS_RE = re.compile(r"^/{0,2}[\w.@/+-]*:[\w.@+-]+$")


def split_override(spec: str) -> Tuple[str, str]:
    """`ADDRESS=VALUE` -> (ADDRESS, VALUE); a spec whose part before the first `=` is not an
    address `path:name` applies to every image: (ALL, spec). (A regex may contain `=`.)"""
    left, sep, right = spec.partition("=")
    if sep and _ADDRESS_RE.match(left):
        return left.lstrip("/"), right
    return ALL, spec


def _pick(mapping: Mapping[str, str], address: str) -> Optional[str]:
    if address in mapping:
        return mapping[address]
    return mapping.get(ALL)


def _check_regex(address: str, where: str, regex: str) -> None:
    try:
        re.compile(regex)
    except re.error as e:
        raise SettingsError(
            f"{address}: {where} is not a valid regular expression ({e}): {regex!r}. Fix the regex "
            "(Python `re` syntax; group 1, if any, must capture the app's monotonic milliseconds)."
        ) from e


def image_settings(address: str, field: Optional[Mapping[str, Any]], overrides: Overrides = Overrides()) -> ImageSettings:
    """The settings of `address` from its `benchmark` field value (as `peek` shows it) and the
    command line (which wins). Raises SettingsError for a bad key or value."""
    field = dict(field or {})
    unknown = sorted(set(field) - set(FIELD_KEYS))
    if unknown:
        raise SettingsError(
            f"{address}: the `{FIELD}` field has unknown key(s) {', '.join(repr(k) for k in unknown)}. "
            f"Use only {', '.join(repr(k) for k in FIELD_KEYS)} (see `./pants help unikernel_image`)."
        )
    values: Dict[str, Any] = {}
    sources: List[str] = []
    if field:
        sources.append("`benchmark` field")
    ready = field.get("ready")
    until = field.get("until")
    http = field.get("http_path")
    edit = field.get("edit")
    cli = False
    if _pick(overrides.ready, address) is not None:
        ready, cli = _pick(overrides.ready, address), True
    if address in overrides.until_exit or ALL in overrides.until_exit:
        until, cli = "exit", True
    if _pick(overrides.http_path, address) is not None:
        http, cli = _pick(overrides.http_path, address), True
    if _pick(overrides.edit, address) is not None:
        edit, cli = _pick(overrides.edit, address), True
    if cli:
        sources.append("command line")
    if until is not None:
        if until not in UNTIL_VALUES:
            raise SettingsError(
                f"{address}: `until` of the `{FIELD}` field is {until!r}; it must be \"ready\" (a server, "
                "measured to its ready line) or \"exit\" (a batch app, measured to its exit)."
            )
        values["until"] = until
    if ready is not None:
        _check_regex(address, f"the `ready` pattern of the `{FIELD}` field or --ready-pattern", ready)
        values["ready"] = ready
    if http is not None:
        if http != NO_HTTP and not http.startswith("/"):
            raise SettingsError(
                f"{address}: `http_path` of the `{FIELD}` field (or --http-path) is {http!r}; give a "
                f"path starting with `/`, e.g. \"/\", or \"{NO_HTTP}\" for a port that does not speak HTTP."
            )
        values["http_path"] = None if http == NO_HTTP else http
    if edit:
        values["edit"] = edit.lstrip("/")
    return ImageSettings(source=" and ".join(sources) or "default", **values)


def exit_virtual_ms(output: str) -> Optional[float]:
    """The virtual ms at the app's exit, if init printed its clock (EXIT_CLOCK_RE) before the exit
    marker; None otherwise (init of 2026-12-01 does not)."""
    found = re.findall(EXIT_CLOCK_RE, output or "")
    if not found:
        return None
    try:
        return float(found[-1])
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Goals


@dataclasses.dataclass(frozen=True)
class Goal:
    """What an image should reach; None: no goal for that measurement."""

    total_mb: Optional[float] = None  # decimal MB (10^6 bytes) of kernel + initrd (+ rootfs)
    ready_ms: Optional[float] = None  # virtual ms to ready (or to exit)
    floor_mib: Optional[int] = None
    rebuild_s: Optional[float] = None  # wall seconds of `package` after a one-line app change
    kernel_rebuild_allowed: bool = False
    runtime_layer_rebuild_allowed: bool = False
    extra_debian_packages: Optional[int] = None  # at most this many packages added by the image

    def summary(self) -> str:
        """The goals in one table cell."""
        parts = []
        if self.total_mb is not None:
            parts.append(f"total ≤ {self.total_mb:g} MB")
        if self.ready_ms is not None:
            parts.append(f"ready ≤ {self.ready_ms:g} ms")
        if self.floor_mib is not None:
            parts.append(f"floor ≤ {self.floor_mib} MiB")
        if self.rebuild_s is not None:
            parts.append(f"rebuild ≤ {self.rebuild_s:g} s")
        if self.extra_debian_packages == 0:
            parts.append("no extra Debian packages")
        elif self.extra_debian_packages is not None:
            parts.append(f"≤ {self.extra_debian_packages} extra Debian packages")
        return ", ".join(parts) or "—"


C_GOAL = Goal(total_mb=1.5, ready_ms=40, floor_mib=16, rebuild_s=3)
PYTHON_GOAL = Goal(total_mb=8, ready_ms=250, floor_mib=40, rebuild_s=6)
JAVA_GOAL = Goal(total_mb=20, ready_ms=400, floor_mib=64, rebuild_s=8)

# Goals by image: only these images are checked; every other image is measured and shown
# without goals. The examples have their runtime's goals; the real third-party apps of issue 10
# have the goals the issue sets (the H2 database: a JDBC app whose jdeps list has java.desktop).
GOALS: Dict[str, Goal] = {
    "testprojects/c/hello_http:image": C_GOAL,
    "testprojects/c/disk_hello:image": C_GOAL,
    "testprojects/python/hello_http:image": PYTHON_GOAL,
    "testprojects/java/hello_http:image": JAVA_GOAL,
    "testprojects/java/h2:image": Goal(total_mb=30, extra_debian_packages=0),
}


def extra_debian_packages(manifest: Mapping[str, Any]) -> Optional[List[str]]:
    """The Debian packages the image adds to its runtime's own, if the bundle records them
    (manifest `app.debian_packages`, the Java runtime's `debian_packages` field, or
    `app.extra_debian_packages`: a comma-separated string or a list); None if not."""
    app = manifest.get("app") if isinstance(manifest.get("app"), dict) else {}
    value = app.get("debian_packages", app.get("extra_debian_packages"))
    if value is None:
        return None
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return [str(p) for p in value]
