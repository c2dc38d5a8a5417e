"""Resolve the dependency closure of Debian packages and print it as lock entries (JSON).

Runs in a sandbox with the `[debian-tools]` PEX (python-debian). Usage:

    generate_lock.py --mirror URL --arch amd64 --suite bookworm [--suite ...]
                     --component main [--component ...] --out packages.json ROOT [ROOT ...]

For every suite it downloads `dists/<suite>/Release`, then `<component>/binary-<arch>/Packages.xz`
checked against the Release file's SHA256 list, and resolves `Depends` + `Pre-Depends` of the
roots recursively:

- one version per package name; the highest version available (across suites) is chosen;
- alternatives `a | b`: the first alternative that can be satisfied;
- versioned relations (`<<`, `<=`, `=`, `>=`, `>>`) are honoured, also against versioned
  `Provides`; a virtual package is satisfied by a package that provides it (one already chosen
  first, else the provider with the smallest name);
- arch qualifiers `:any` / `:native` accept any locked architecture;
- Essential / `Priority: required` packages are NOT added unless something depends on them.

No backtracking: if a choice made earlier conflicts with a later versioned relation, or nothing
satisfies a relation, the script fails naming the chain of packages that led there. Errors are
printed as one line prefixed with `UNIKERNEL_DEBIAN_LOCK_ERROR ` and exit code 2.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import lzma
import sys
import urllib.error
import urllib.request
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from debian import deb822
from debian.debian_support import version_compare

ERROR_PREFIX = "UNIKERNEL_DEBIAN_LOCK_ERROR "


class ResolveError(Exception):
    pass


@dataclass
class Candidate:
    name: str
    version: str
    architecture: str
    suite: str
    sha256: str
    size: int
    filename: str
    relations: List[List[dict]]  # Pre-Depends then Depends: a list of alternatives each
    provides: List[Tuple[str, Optional[str]]] = field(default_factory=list)


def _satisfies(version: Optional[str], constraint: Optional[Tuple[str, str]]) -> bool:
    if constraint is None:
        return True
    if version is None:
        return False
    op, wanted = constraint
    c = version_compare(version, wanted)
    if op == "<<":
        return c < 0
    if op in ("<=", "<"):
        return c <= 0
    if op == "=":
        return c == 0
    if op in (">=", ">"):
        return c >= 0
    if op == ">>":
        return c > 0
    raise ResolveError(f"unknown version operator {op!r}")


def format_relation(rel: dict) -> str:
    text = rel["name"]
    if rel.get("archqual"):
        text += f":{rel['archqual']}"
    if rel.get("version"):
        text += f" ({rel['version'][0]} {rel['version'][1]})"
    return text


class Index:
    def __init__(self, architecture: str, suites: Sequence[str]) -> None:
        self.architecture = architecture
        self.suite_order = {s: i for i, s in enumerate(suites)}
        self.by_name: Dict[str, List[Candidate]] = defaultdict(list)
        self.providers: Dict[str, List[Tuple[Candidate, Optional[str]]]] = defaultdict(list)
        self.where = ", ".join(suites)

    def add_packages_text(self, suite: str, text: str) -> None:
        for para in deb822.Packages.iter_paragraphs(text.splitlines(keepends=True), use_apt_pkg=False):
            self.add(suite, para)

    def add(self, suite: str, para: deb822.Packages) -> None:
        arch = para.get("Architecture", "")
        if arch not in (self.architecture, "all"):
            return
        rel = para.relations
        cand = Candidate(
            name=para["Package"],
            version=para["Version"],
            architecture=arch,
            suite=suite,
            sha256=para.get("SHA256", ""),
            size=int(para.get("Size", "0")),
            filename=para.get("Filename", ""),
            relations=[*rel["pre-depends"], *rel["depends"]],
            provides=[(alts[0]["name"], alts[0]["version"][1] if alts[0].get("version") else None) for alts in rel["provides"]],
        )
        existing = self.by_name[cand.name]
        if any(version_compare(c.version, cand.version) == 0 for c in existing):
            # The same version in two suites: keep the one of the first suite listed.
            if self.suite_order.get(suite, 0) >= min(self.suite_order.get(c.suite, 0) for c in existing):
                return
            existing[:] = [c for c in existing if version_compare(c.version, cand.version) != 0]
        existing.append(cand)
        for vname, vversion in cand.provides:
            self.providers[vname].append((cand, vversion))

    def finish(self) -> None:
        key = functools.cmp_to_key(lambda a, b: version_compare(b.version, a.version))
        for cands in self.by_name.values():
            cands.sort(key=key)


class Resolver:
    def __init__(self, index: Index) -> None:
        self.index = index
        self.selected: Dict[str, Candidate] = {}
        self.chain: Dict[str, Tuple[str, ...]] = {}
        self.depends: Dict[str, List[str]] = {}

    def _arch_ok(self, rel: dict) -> bool:
        restrictions = rel.get("arch")
        if not restrictions:
            return True
        positive = [r.arch for r in restrictions if r.enabled]
        negative = [r.arch for r in restrictions if not r.enabled]
        if positive:
            return self.index.architecture in positive
        return self.index.architecture not in negative

    def _satisfier(self, rel: dict) -> Tuple[Optional[Candidate], str]:
        """The package that satisfies `rel`, or None and why not."""
        name, constraint, archqual = rel["name"], rel.get("version"), rel.get("archqual")
        if archqual not in (None, "any", "native", self.index.architecture):
            return None, f"{format_relation(rel)} asks for architecture {archqual}"
        chosen = self.selected.get(name)
        if chosen is not None:
            if _satisfies(chosen.version, constraint):
                return chosen, ""
            return None, f"{name} {chosen.version} was already chosen (for {' -> '.join(self.chain[name])})"
        for cand in self.index.by_name.get(name, ()):
            if _satisfies(cand.version, constraint):
                return cand, ""
        providers = [
            (c, v) for c, v in self.index.providers.get(name, ()) if _satisfies(v, constraint)
        ]
        already = [c for c, _ in providers if self.selected.get(c.name) is c]
        if already:
            return sorted(already, key=lambda c: c.name)[0], ""
        fresh = [c for c, _ in providers if c.name not in self.selected]
        if fresh:
            best: Dict[str, Candidate] = {}
            for c in fresh:  # the highest version of each provider
                if c.name not in best or version_compare(c.version, best[c.name].version) > 0:
                    best[c.name] = c
            return best[sorted(best)[0]], ""
        available = self.index.by_name.get(name)
        if available:
            return None, (
                f"available versions of {name} are {', '.join(c.version for c in available)}"
            )
        return None, f"no package {name} (real or virtual) exists in {self.index.where} for {self.index.architecture}"

    def _select(self, cand: Candidate, chain: Tuple[str, ...], queue: deque) -> None:
        self.selected[cand.name] = cand
        self.chain[cand.name] = chain
        queue.append(cand.name)

    def resolve(self, roots: Iterable[str]) -> Dict[str, dict]:
        queue: deque = deque()
        for root in sorted(set(roots)):
            if root in self.selected:
                continue
            cands = self.index.by_name.get(root)
            if not cands:
                providers = sorted({c.name for c, _ in self.index.providers.get(root, ())})
                hint = (
                    f" It is a virtual package provided by {', '.join(providers)}: request one of those."
                    if providers
                    else ""
                )
                raise ResolveError(
                    f"The requested package {root} does not exist in {self.index.where} "
                    f"for {self.index.architecture}.{hint}"
                )
            self._select(cands[0], (root,), queue)
        while queue:
            name = queue.popleft()
            cand = self.selected[name]
            deps = set()
            for alternatives in cand.relations:
                alternatives = [a for a in alternatives if self._arch_ok(a)]
                if not alternatives:
                    continue
                reasons = []
                for rel in alternatives:
                    sat, why = self._satisfier(rel)
                    if sat is not None:
                        break
                    reasons.append(why)
                else:
                    wanted = " | ".join(format_relation(a) for a in alternatives)
                    raise ResolveError(
                        f"Cannot satisfy the dependency `{wanted}` of {name} {cand.version} "
                        f"(chain: {' -> '.join(self.chain[name])}): {'; '.join(reasons)}."
                    )
                if sat.name != name:
                    deps.add(sat.name)
                if sat.name not in self.selected:
                    self._select(sat, (*self.chain[name], sat.name), queue)
            self.depends[name] = sorted(deps)
        return {
            name: {
                "architecture": c.architecture,
                "depends": self.depends[name],
                "filename": c.filename,
                "sha256": c.sha256,
                "size": c.size,
                "suite": c.suite,
                "version": c.version,
            }
            for name, c in sorted(self.selected.items())
        }


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        raise ResolveError(f"Downloading {url} failed: HTTP {e.code} {e.reason}.") from None
    except (urllib.error.URLError, OSError) as e:
        raise ResolveError(f"Downloading {url} failed: {e}.") from None


def _release_sha256(release_text: str) -> Dict[str, Tuple[str, int]]:
    release = deb822.Release(release_text)
    return {e["name"]: (e["sha256"], int(e["size"])) for e in release.get("SHA256", [])}


def load_index(mirror: str, suites: Sequence[str], components: Sequence[str], arch: str) -> Index:
    index = Index(arch, suites)
    for suite in suites:
        release_url = f"{mirror}/dists/{suite}/Release"
        sums = _release_sha256(_fetch(release_url).decode("utf-8", errors="replace"))
        for component in components:
            rel_path = f"{component}/binary-{arch}/Packages.xz"
            if rel_path not in sums:
                raise ResolveError(f"{release_url} lists no {rel_path}: check `[debian-lock]` suites, components and architecture.")
            url = f"{mirror}/dists/{suite}/{rel_path}"
            data = _fetch(url)
            want_sha, want_size = sums[rel_path]
            got = hashlib.sha256(data).hexdigest()
            if got != want_sha or len(data) != want_size:
                raise ResolveError(
                    f"{url} does not match its Release file (sha256 {got}, {len(data)} bytes; "
                    f"expected {want_sha}, {want_size} bytes): the mirror may be syncing, retry later."
                )
            index.add_packages_text(suite, lzma.decompress(data).decode("utf-8", errors="replace"))
    index.finish()
    return index


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mirror", required=True)
    parser.add_argument("--arch", required=True)
    parser.add_argument("--suite", action="append", required=True)
    parser.add_argument("--component", action="append", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("roots", nargs="+")
    args = parser.parse_args(argv)
    try:
        index = load_index(args.mirror.rstrip("/"), args.suite, args.component, args.arch)
        packages = Resolver(index).resolve(args.roots)
    except ResolveError as e:
        print(ERROR_PREFIX + " ".join(str(e).split()), file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"packages": packages}, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
