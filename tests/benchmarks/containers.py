"""Containers and publishing (docs/containers.md, docs/publish.md): each example's container.tar
size beside its bundle, the wall time from start to READY of the same app as a container under
Docker and as a VM under QEMU (TCG), and `pants publish` of an unchanged image (its time with a
warm pantsd, the blobs it uploads), measured in one run on one machine.

    ./pants run tests/benchmarks:containers          # ~5 min on 2 cores (kernels cached)

In a temporary copy of the repository: `pants package` the C, Python and Java examples; start a
Docker engine of our own (tests/docker_engine.py: Debian's dockerd, no bridge, host network);
per example and round: the VM booted by the launcher (TCG, not icount: a wall-clock figure) from
QEMU's start to the READY line with `GET` answered 200, and the container (loaded once) from the
engine's start request to the READY line in its log (the Engine API polled every 5 ms). The
app gets a free port as its first argument in both. The ratio is VM / container. Then a
registry of our own (Debian's docker-registry on loopback): each example published once (what
is pushed: the artifact's layers, the container image's layer), then again unchanged, timed
(`pants publish` with the copy's warm pantsd) and its blob uploads counted in the registry's log.

The figures go to `$TMPDIR/unikernel-rules-containers.json` and into the "Containers" section of
docs/benchmarks.md (rendered again by every `tests/benchmarks:report` run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import figures as figures_file
from benchmarks import sections
from benchmarks.disk_formats import READY_RE, _mb

FIGURES = "unikernel-rules-containers.json"
HEADING = "## Containers and publishing (`container` format, `pants publish`)"
GOAL_PUBLISH_S = 3.0
COMMAND = "./pants run tests/benchmarks:containers"
EXAMPLES = {
    "testprojects/c/hello_http:image": "/",
    "testprojects/python/hello_http:image": "/hello",
    "testprojects/java/hello_http:image": "/hello",
}
TIMEOUT_S = 240.0


def read_figures(path: Optional[Path] = None) -> Optional[Dict[str, Any]]:
    return figures_file.read_figures(FIGURES, path)


def log(msg: str) -> None:
    print(f"[containers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bundle_dir(root: Path, address: str) -> Path:
    path, name = address.split(":")
    return root / "dist" / path.replace("/", ".") / name


def layer_size(tarball: Path, layer_digest: str) -> int:
    """The size of the container image's one layer (what a registry stores for it)."""
    import tarfile

    with tarfile.open(tarball) as tar:
        return tar.getmember(f"blobs/sha256/{layer_digest.split(':')[1]}").size


def vm_ready_s(bundle: Path, path: str) -> Dict[str, Any]:
    from unikernel_rules.qemu import launcher

    port = launcher.free_port()
    r = launcher.boot(
        str(bundle), accel="tcg", timeout=TIMEOUT_S, quiet=True, ports=[(port, 8080)], app_args=[],
        ready=READY_RE, stop_after_ready=True, http_get=f"8080{path}",
    )
    if r.ready_wall_s is None or r.http_status != 200:
        return {"error": (r.message or "no READY/HTTP 200").strip()[:300]}
    return {"s": round(r.ready_wall_s, 3)}


def container_ready_s(api: Any, image_id: str) -> Dict[str, Any]:
    from docker_engine import run_until
    from unikernel_rules.qemu import launcher

    try:
        return {"s": round(run_until(api, image_id, [str(launcher.free_port())], b"READY", TIMEOUT_S), 3)}
    except AssertionError as e:
        return {"error": str(e)[:300]}


def measure(work: Path, rounds: int) -> Dict[str, Any]:
    from benchmarks.measure import load_average
    from docker_engine import dockerd, load
    from pants_repo import RepoCopy

    started = time.monotonic()
    figures = sections.start_figures(rounds=rounds, images={})
    repo = RepoCopy(work / "repo")
    try:
        r = repo.run("package", *EXAMPLES)
        if r.exit_code != 0:
            figures["error"] = "pants package failed: " + r.stderr[-1500:]
            return figures
        with dockerd() as api:
            figures["docker"] = api.get("/version").get("Version")
            for address, path in EXAMPLES.items():
                bundle = bundle_dir(repo.root, address)
                manifest = json.loads((bundle / "manifest.json").read_text())
                entry = manifest["formats"]["container"]
                load(api, bundle / entry["file"])
                sbom = manifest["sbom"]
                out: Dict[str, Any] = {
                    "bundle_bytes": manifest["total_bytes"],
                    # What the artifact's layers hold: the bundle, its SBOM and manifest.json.
                    "artifact_bytes": manifest["total_bytes"] + manifest["files"][sbom["file"]]["size"]
                    + (bundle / "manifest.json").stat().st_size,
                    "sbom": {"bytes": manifest["files"][sbom["file"]]["size"], "files": sbom["files"],
                             "packages": sbom["packages"], "origins": sbom["origins"]},
                    "container_bytes": entry["size"],
                    "layer_bytes": layer_size(bundle / entry["file"], entry["layer_digest"]),
                    "runtime": manifest["runtime"],
                    "vm": [],
                    "container": [],
                }
                for i in range(rounds):
                    out["vm"].append(vm_ready_s(bundle, path))
                    out["container"].append(container_ready_s(api, entry["config_digest"]))
                    log(f"{address} round {i + 1}: VM {out['vm'][-1]}, container {out['container'][-1]}")
                figures["images"][address] = out
        measure_publish(repo, figures)
    finally:
        repo.cleanup()
    figures["load_end"] = load_average()
    figures["duration_s"] = round(time.monotonic() - started)
    return figures


def measure_publish(repo: Any, figures: Dict[str, Any]) -> None:
    from docker_engine import blob_uploads, registry

    with registry() as (address, access_log):
        for target in EXAMPLES:
            build = repo.root / target.split(":")[0] / "BUILD"
            build.write_text(build.read_text().replace("unikernel_image(\n", f'unikernel_image(\n    registries=["{address}"],\n', 1))
        first = repo.run("publish", *EXAMPLES)
        if first.exit_code != 0:
            figures["publish_error"] = first.stderr[-1000:]
            return
        for address_, entry in figures["images"].items():
            before = blob_uploads(access_log)
            start = time.monotonic()
            again = repo.run("publish", address_)
            entry["republish_s"] = round(time.monotonic() - start, 2)
            entry["republish_uploads"] = blob_uploads(access_log) - before
            entry["republish_ok"] = again.exit_code == 0
            log(f"{address_} republished in {entry['republish_s']} s, {entry['republish_uploads']} uploads")


def _median(samples: List[Dict[str, Any]]) -> Optional[float]:
    ok = [s["s"] for s in samples if "s" in s]
    return statistics.median(ok) if ok and len(ok) == len(samples) else None


def _cell(samples: List[Dict[str, Any]]) -> str:
    errors = [s["error"] for s in samples if "error" in s]
    if errors:
        return f"❌ {errors[0]}"
    return " / ".join(f"{s['s']:.2f} s" for s in samples)


def render(figures: Optional[Dict[str, Any]]) -> List[str]:
    lines = [HEADING, ""]
    if not figures:
        return lines + [f"Not measured on this machine yet: `{COMMAND}`."]
    m = figures["machine"]
    lines += [
        f"Measured {figures['measured']} by `{COMMAND}` in {figures.get('duration_s', 0) / 60:.0f} min, on this "
        f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['qemu']}, TCG (no KVM here), Docker {figures.get('docker')} "
        f"(Debian's dockerd, host network), Pants {m['pants']}; load average at the start {figures.get('load_start')}, "
        f"at the end {figures.get('load_end')}. {figures['rounds']} round(s) per example, VM and container alternating. "
        "*VM*: wall time from QEMU's start to the READY line, `GET` answered 200 (TCG emulates every guest instruction, "
        "kernel boot included: with KVM a VM is many times faster). *Container*: wall time from the engine's start "
        "request to READY in the container's log. The same root tree and command in both (docs/containers.md).",
        "",
    ]
    if figures.get("error"):
        return lines + [f"❌ {figures['error']}"]
    lines += ["| Image | Bundle | `container.tar` | VM to READY | Container to READY | VM / container (medians) |",
              "|---|---|---|---|---|---|"]
    for address, e in figures["images"].items():
        vm, ct = _median(e["vm"]), _median(e["container"])
        ratio = f"{vm / ct:.1f}×" if vm and ct else "—"
        lines.append(
            f"| `{address}` | {_mb(e['bundle_bytes'])} | {_mb(e['container_bytes'])} | {_cell(e['vm'])} | "
            f"{_cell(e['container'])} | {ratio} |"
        )
    if figures.get("publish_error"):
        return lines + ["", f"❌ `pants publish` failed: {figures['publish_error']}"]
    lines += [
        "",
        "`pants publish` of each unchanged image (the artifact `REPOSITORY:latest`, the container image "
        "`REPOSITORY:latest-container` and, for an image with a qcow2 disk, its KubeVirt containerDisk "
        "`REPOSITORY:latest-containerdisk`, not counted in the sizes below) to a registry on loopback, after a "
        "first publish; warm pantsd; the uploads counted in the registry's access log.",
        "",
        "| Image | Pushed: artifact layers (bundle, SBOM, manifest) + container layer | SBOM: files, packages, size | Publish, unchanged | Blobs uploaded | Goal |",
        "|---|---|---|---|---|---|",
    ]
    for address, e in figures["images"].items():
        if "republish_s" not in e:
            continue
        ok = e["republish_ok"] and e["republish_uploads"] == 0 and e["republish_s"] <= GOAL_PUBLISH_S
        sbom = e.get("sbom") or {}
        lines.append(
            f"| `{address}` | {_mb(e.get('artifact_bytes', e['bundle_bytes']))} + {_mb(e.get('layer_bytes'))} | "
            f"{sbom.get('files', '—')}, {sbom.get('packages', '—')}, {_mb(sbom.get('bytes'))} | {e['republish_s']:.1f} s | "
            f"{e['republish_uploads']} | no blob, ≤ {GOAL_PUBLISH_S:.0f} s {'✅' if ok else '❌'} |"
        )
    return lines


def replace_section(markdown: str, figures: Optional[Dict[str, Any]]) -> str:
    return sections.replace(markdown, HEADING, render(figures))


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="rounds per example (default 3)")
    args = p.parse_args(argv)
    return sections.measure_in_temp("containers-", measure, FIGURES, replace_section, rounds=args.rounds)


if __name__ == "__main__":
    sys.exit(main())
