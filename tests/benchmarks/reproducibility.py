"""The report's section on reproducibility and the remote cache: figures measured by
tests/reproducibility_integration_test.py, rendered here."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from remote_cache import FIGURES_FILE

# Figures of the reproducibility + remote cache test (tests/reproducibility_integration_test.py
# reports them in pytest's warnings summary); copied here by hand after a run. Edit freely.
REPRODUCIBILITY_HEADING = "## Reproducibility and remote cache"


def render_reproducibility(figures: Optional[Dict[str, Any]]) -> List[str]:
    """The section on reproducibility and the remote cache: figures measured by
    tests/reproducibility_integration_test.py (part of `pants test ::`), which records them in
    `remote_cache.figures_path()`; this report only renders them."""
    lines = ["", f"{REPRODUCIBILITY_HEADING} (all `testprojects/` images)", ""]
    add = lines.append
    source = "`tests/reproducibility_integration_test.py` (part of `pants test ::`)"
    if not figures:
        add(f"No figures: {source} has not run on this machine since its temp dir was last")
        add(f"cleared (it records them in `$TMPDIR/{FIGURES_FILE}`). Run it, then this report again.")
        return lines
    add(f"Measured by {source}, run started {figures.get('started', '?')},")
    add(f"last figure {figures.get('updated', '?')}. Build A: the suite's normal build (the user's local")
    add("cache: hits on a warm machine). Build B: no local cache, another checkout path, named caches,")
    add("TZ, LANG, umask, under `faketime`, the host's compiler toolchain hidden; writes every process")
    add("to a BuildGrid REAPI server on loopback. Clone C: another path, an empty local store, named")
    add("caches of its own, remote cache read only; clone C': also another HOME (no pyenv) and its")
    add("Pythons in another PATH order. See docs/reproducibility.md and docs/remote-cache.md.")
    add("")
    a, b, c = figures.get("clone_a") or {}, figures.get("build_b") or {}, figures.get("clone_c") or {}
    stopped = figures.get("server_stopped") or {}

    def num(d: Dict[str, Any], key: str, unit: str = "") -> str:
        return "—" if d.get(key) is None else f"{d[key]}{unit}"

    add("| Figure | Measured | Goal | |")
    add("|---|---|---|---|")
    ran = c.get("run_locally")
    add(f"| processes run locally on clone C | {num(c, 'run_locally')} | 0 | "
        f"{'—' if ran is None else ('✅' if ran == 0 else '❌')} |")
    hits, requests = c.get("remote_hits"), c.get("remote_requests")
    add(f"| remote cache hits on clone C | {'—' if hits is None else f'{hits} of {requests}'} | all | "
        f"{'—' if hits is None else ('✅' if requests and hits == requests else '❌')} |")
    d = figures.get("clone_d") or {}
    if d:
        d_hits, d_requests = d.get("remote_hits"), d.get("remote_requests")
        d_total = d.get("pex_builds_total")
        good = d_requests is not None and d_hits is not None and d_total is not None and d_requests - d_hits <= 2 * d_total
        add(f"| remote cache hits on clone C' (another user: other HOME, no pyenv, Pythons in another PATH order) | "
            f"{d_hits} of {d_requests} ({d.get('pex_builds_run')} PEX builds started; the build has {d_total}, "
            f"each 1-2 processes) | "
            f"all but Pants' own PEX builds | {'✅' if good else '❌'} |")
    add(f"| Pants' environment discovery on clone C (never cached, by Pants' design) | "
        f"{num(c, 'discovery')} processes | | |")
    add(f"| wall time, build A (the user's local cache) | {num(a, 'wall_s', ' s')} "
        f"({num(a, 'local_hits')} hits, {num(a, 'local_processes')} processes run) | | |")
    hidden = b.get("host_toolchain_hidden")
    add(f"| wall time, build B (no local cache, writes the remote cache"
        f"{'' if hidden is None else (', host toolchain hidden' if hidden else ', host toolchain visible')}) "
        f"| {num(b, 'wall_s', ' s')} | | |")
    add(f"| wall time, clone C (from the remote cache) | {num(c, 'wall_s', ' s')} | | |")
    add(f"| processes build B ran and wrote | {num(b, 'local_processes')} ran, {num(b, 'written')} "
        f"written, {num(b, 'write_errors')} write errors | | |")
    if stopped:
        add(f"| server stopped: a changed C image still builds | "
            f"{'yes' if stopped.get('build_succeeded') else 'no'}, "
            f"{'with' if stopped.get('warned') else 'without'} Pants' warning | yes, with a warning | "
            f"{'✅' if stopped.get('build_succeeded') and stopped.get('warned') else '❌'} |")
    artifacts: Dict[str, str] = figures.get("artifacts") or {}
    different = set(figures.get("different") or ())
    c_same = c.get("identical_to_a")
    add("")
    if not artifacts:
        add("No artifact comparison recorded (build A or B failed).")
        return lines
    add(f"Artifacts compared byte for byte, build A vs build B"
        f"{'' if c_same is None else ' (and clone C vs A: ' + ('all identical' if c_same else 'DIFFERENT') + ')'}:"
        f" {len(artifacts) - len(different)} of {len(artifacts)} identical.")
    add("")
    add("| Artifact | sha256 (build A) | A = B |")
    add("|---|---|---|")
    for name in sorted(artifacts):
        add(f"| `{name}` | `{artifacts[name][:16]}…` | {'❌' if name in different else '✅'} |")
    return lines


def replace_reproducibility(markdown: str, figures: Optional[Dict[str, Any]]) -> str:
    """`markdown` (a report this script wrote) with its reproducibility section rendered anew
    from `figures`; the measurements of the images stay as they were."""
    head = markdown.split("\n" + REPRODUCIBILITY_HEADING, 1)[0].rstrip("\n")
    return head + "\n" + "\n".join(render_reproducibility(figures)).rstrip("\n") + "\n"

