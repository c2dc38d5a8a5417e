"""The installed files of a Python tool's locked requirements, without a venv or a host Python.

Pants runs Python tools as VenvPex scripts: their cache keys then hold the interpreter Pants
chose on this machine (PATH, pyenv), Pants' own interpreter path (under the user's HOME) and
the named caches directory (the venv's path). Our tools need none of it: the zig compiler is a
binary inside its wheel, and python-debian / pyelftools are pure-Python libraries our scripts
import. So the tool's PEX is built in pex's `loose` layout (`.deps/<wheel>/`: one directory per
installed wheel) or `packed` layout (`.deps/<wheel>`: one zip per installed wheel, with fixed
timestamps), and only its `.deps/` (the same bytes whichever interpreter pex ran with) enters
the processes: the libraries go on PYTHONPATH of the locked Python
(unikernel_rules.debian.tool_python); zig's zip is unpacked once into a named cache and its
binary run from there (unikernel_rules.util_rules.zig_cc).

The PEX build itself is one of Pants' own processes (its key still names Pants' interpreter);
everything downstream is keyed by the wheels' bytes.
"""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass
from typing import Mapping, Tuple

from pants.backend.python.target_types import PexLayout
from pants.backend.python.util_rules.pex import Pex, PexRequest
from pants.engine.fs import Digest, DigestEntries, FileEntry, DigestSubset, PathGlobs, RemovePrefix
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel


@dataclass(frozen=True)
class ToolWheelsRequest:
    pex_request: PexRequest  # the tool's requirements (e.g. `subsystem.to_pex_request()`)
    directory: str  # sandbox directory to place the wheels under, e.g. "__zig"
    packed: bool = False  # one zip per wheel instead of one directory


@dataclass(frozen=True)
class ToolWheels:
    digest: Digest  # `<wheel file name>/<the wheel's installed files>`, placed at `directory`
    directory: str
    wheels: Tuple[str, ...]  # the wheels' directory (or, packed, zip file) names, sorted
    fingerprints: Tuple[str, ...]  # packed: each zip's sha256, in `wheels` order; else ""s

    @property
    def immutable_input_digests(self) -> Mapping[str, Digest]:
        """For `Process(immutable_input_digests=...)`: symlinked into the sandbox, not copied
        (zig's wheel holds ~15,000 files)."""
        return FrozenDict({self.directory: self.digest})

    @property
    def python_path(self) -> Tuple[str, ...]:
        """Sandbox-relative PYTHONPATH entries: one per installed wheel."""
        return tuple(posixpath.join(self.directory, w) for w in self.wheels)

    def wheel(self, project_prefix: str) -> Tuple[str, str]:
        """(sandbox path, fingerprint) of the one wheel whose name starts with `project_prefix`
        (e.g. "ziglang-")."""
        (i,) = [i for i, w in enumerate(self.wheels) if w.startswith(project_prefix)]
        return posixpath.join(self.directory, self.wheels[i]), self.fingerprints[i]


@rule(desc="Install a Python tool's wheels", level=LogLevel.DEBUG)
async def tool_wheels(request: ToolWheelsRequest) -> ToolWheels:
    layout = PexLayout.PACKED if request.packed else PexLayout.LOOSE
    pex_request = dataclasses.replace(request.pex_request, layout=layout, main=None)
    pex = await Get(Pex, PexRequest, pex_request)
    deps_dir = posixpath.join(pex.name, ".deps")
    deps = await Get(Digest, DigestSubset(pex.digest, PathGlobs([f"{deps_dir}/**"])))
    wheels_digest = await Get(Digest, RemovePrefix(deps, deps_dir))
    entries = await Get(DigestEntries, Digest, wheels_digest)
    wheels = tuple(sorted({e.path.split("/", 1)[0] for e in entries}))
    zips = {e.path: e.file_digest.fingerprint for e in entries if isinstance(e, FileEntry) and "/" not in e.path}
    fingerprints = tuple(zips.get(w, "") if request.packed else "" for w in wheels)
    return ToolWheels(wheels_digest, request.directory, wheels, fingerprints)


def rules():
    return collect_rules()
