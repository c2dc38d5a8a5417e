#!/usr/bin/env python3
"""Run an image's `container.tar` in a Docker engine: `pants run --unikernel-run-format=container`.

    engine.py --bundle DIR [options] [-- APP ARGS]

The fast inner loop beside the VM: the same root tree, command, args, env, workdir, user and
ports, without kernel or boot. It loads the tarball into the engine unless the engine already
has that image (its ID is the config's digest, so an unchanged image is never loaded twice),
creates a container, copies the app's stdout and stderr byte for byte, and exits with the
app's exit status; Ctrl-C (or SIGTERM) stops and removes the container and exits 130 (143); a
`--timeout` stops it and exits 124. The container is always removed.

Networking: the engine's default bridge with the image's ports published on 127.0.0.1, the way
the VM's ports are; `network="host"` shares this machine's network; `none` has none. An engine
started without a bridge (`dockerd --bridge=none`) gets host networking instead (said on stderr):
the app then listens on its own (guest) ports. A container has no VM's isolation: with the
bridge, `isolated` still reaches the outside (docs/containers.md).

Needs the Docker SDK for Python (`[docker-sdk]`, on PYTHONPATH); standard library otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

DEFAULT_HOST = "unix:///var/run/docker.sock"
EXIT_TIMEOUT = 124
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class EngineError(Exception):
    """A problem reported in one paragraph before (or instead of) running the container."""


def load_manifest(bundle: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(manifest, its `formats.container` entry)."""
    path = os.path.join(bundle, "manifest.json")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise EngineError(f"cannot read {path} ({e}): package the image again with `pants package`.")
    entry = manifest.get("formats", {}).get("container")
    target = manifest.get("target", bundle)
    if entry is None:
        built = ", ".join(manifest.get("formats", {})) or "bundle"
        raise EngineError(
            f"{target} was built without the `container` format (it built {built}): add \"container\" "
            f"to its `formats` field (e.g. `formats=[\"bundle\", \"container\"]`) and run again."
        )
    if not os.path.isfile(os.path.join(bundle, entry["file"])):
        raise EngineError(f"{os.path.join(bundle, entry['file'])} is missing: package {target} again.")
    return manifest, entry


def port_map(manifest: Dict[str, Any], ports: Optional[List[Tuple[int, int]]]) -> List[Tuple[int, int]]:
    """(host, guest) pairs: the run's `--port`s, else the manifest's."""
    if ports is not None:
        return ports
    return [(int(p["host"]), int(p["guest"])) for p in manifest.get("ports", ())]


def parse_port(spec: str) -> Tuple[int, int]:
    parts = spec.split(":")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() and 0 < int(p) < 65536 for p in parts):
        raise EngineError(f"--port {spec!r}: expected HOST:GUEST or PORT (1-65535)")
    return (int(parts[0]), int(parts[-1]))


def networking(network: str, has_bridge: bool, ports: List[Tuple[int, int]]) -> Tuple[str, Dict[str, Any], str]:
    """(network_mode, the SDK's `ports`, a note for stderr or "")."""
    if network == "none":
        note = "the image's network is `none`: no port is published" if ports else ""
        return "none", {}, note
    if network == "host":
        return "host", {}, ""
    if not has_bridge and network == "isolated" and not ports:
        return "none", {}, ""  # nothing comes in, nothing goes out: as isolated as the VM
    if not has_bridge:
        remapped = [f"{h}->{g}" for h, g in ports if h != g]
        note = (
            "the Docker engine has no bridge network (dockerd --bridge=none?): the container shares "
            "this machine's network"
            + (f", so the app listens on its own ports, not the forwarded ones ({', '.join(remapped)})" if remapped else "")
        )
        return "host", {}, note
    return "bridge", {f"{g}/tcp": ("127.0.0.1", h) for h, g in ports}, ""


def volume_mounts(manifest: Dict[str, Any], volumes_dir: Optional[str], wipe: bool) -> Dict[str, Dict[str, str]]:
    """The image's volumes as directories bind-mounted at their paths (the VM's are ext4 disk
    images beside them: the two runs do not share their contents), owned by the app's user."""
    volumes = manifest.get("volumes") or []
    if not volumes:
        return {}
    if not volumes_dir:
        raise EngineError("the image has volumes: give --volumes-dir (pants run does)")
    mounts: Dict[str, Dict[str, str]] = {}
    for v in volumes:
        host = os.path.join(os.path.abspath(volumes_dir), "container", v["serial"])
        if wipe and os.path.isdir(host):
            shutil.rmtree(host)
        os.makedirs(host, exist_ok=True)
        try:
            os.chown(host, int(v.get("uid", 0)), int(v.get("gid", 0)))
        except PermissionError:
            pass  # a rootless engine maps the owner itself
        mounts[host] = {"bind": v["path"], "mode": "rw"}
    return mounts


def connect(docker: Any, host: Optional[str]) -> Any:
    where = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    try:
        client = docker.DockerClient(base_url=where, version="auto", timeout=120)
        client.ping()
        return client
    except docker.errors.DockerException as e:
        raise EngineError(
            f"cannot reach a Docker engine at {where} ({e}). Start one (e.g. `sudo systemctl start docker`, "
            f"or `sudo dockerd`), or point the DOCKER_HOST environment variable or "
            f"`--unikernel-run-docker-host` at one that runs (e.g. unix:///run/user/1000/docker.sock)."
        ) from None


def ensure_image(docker: Any, client: Any, tarball: str, entry: Dict[str, Any], say) -> str:
    """The image's ID, loading the tarball only when the engine lacks it."""
    image_id = entry["config_digest"]
    try:
        client.images.get(image_id)
        say(f"the engine has {entry['repo_tag']} ({image_id[:19]}): not loaded again")
    except docker.errors.ImageNotFound:
        with open(tarball, "rb") as f:
            client.images.load(f)
        say(f"loaded {tarball} as {entry['repo_tag']}")
    return image_id


class _Stop:
    def __init__(self) -> None:
        self.exit_code: Optional[int] = None
        self.container: Any = None
        self.lock = threading.Lock()

    def __call__(self, code: int) -> None:
        with self.lock:
            if self.exit_code is not None:
                return
            self.exit_code = code
        if self.container is not None:
            try:
                self.container.kill()
            except Exception:  # already gone: nothing to stop
                pass


class _Stopped(Exception):
    """A signal came before the container started."""


def run(ns: argparse.Namespace, app_args: Sequence[str]) -> int:
    manifest, entry = load_manifest(ns.bundle)
    for note in ns.note or ():
        print(f"unikernel: {note}", file=sys.stderr, flush=True)
    say = (lambda m: print(f"unikernel: {m}", file=sys.stderr, flush=True)) if ns.verbose else (lambda m: None)
    try:
        import docker  # pants: no-infer-dep (the [docker-sdk] tool, on PYTHONPATH)
    except ImportError as e:
        raise EngineError(f"the Docker SDK for Python is missing ({e}): run this through `pants run`.")
    client = connect(docker, ns.docker_host)
    tarball = os.path.join(ns.bundle, entry["file"])
    image_id = ensure_image(docker, client, tarball, entry, say)
    ports = port_map(manifest, [] if ns.no_ports else ([parse_port(p) for p in ns.port] if ns.port else None))
    has_bridge = bool(client.networks.list(names=["bridge"]))
    mode, published, note = networking(ns.network or manifest.get("network", "isolated"), has_bridge, ports)
    if note:
        print(f"unikernel: {note}", file=sys.stderr, flush=True)
    command: Optional[List[str]] = None
    if app_args or ns.replace_args:
        image_cmd = [] if ns.replace_args else list(client.images.get(image_id).attrs["Config"].get("Cmd") or [])
        command = image_cmd + list(app_args)
    options: Dict[str, Any] = {"network_mode": mode, "labels": {"dev.unikernel-rules.target": manifest.get("target", "")}}
    if published:
        options["ports"] = published
    if ns.memory:
        options["mem_limit"] = f"{ns.memory}m"
    if ns.cpus:
        options["nano_cpus"] = int(ns.cpus * 1e9)

    mounts = volume_mounts(manifest, ns.volumes_dir, ns.wipe_volumes)
    if mounts:
        options["volumes"] = mounts

    stop = _Stop()

    def on_signal(signum: int, _frame: Any) -> None:
        # Stop from another thread: the main one may be inside the SDK's connection pool.
        threading.Thread(target=stop, args=(EXIT_SIGNAL[signum],), daemon=True).start()

    previous = {s: signal.signal(s, on_signal) for s in EXIT_SIGNAL}
    timer = threading.Timer(ns.timeout, stop, args=(EXIT_TIMEOUT,)) if ns.timeout else None
    try:
        container = client.containers.create(image_id, command=command, detach=True, **options)
    except docker.errors.DockerException as e:
        raise EngineError(f"the Docker engine refused to create a container of {entry['repo_tag']}: {e}") from None
    stop.container = container
    code = 1
    try:
        say(f"container {container.short_id} ({mode} network{', ports ' + str(published) if published else ''})")
        if stop.exit_code is not None:  # stopped while loading or creating
            raise _Stopped()
        # Attached before it starts (as `docker run` does): attaching to a container that has
        # already exited waits for it to start again, forever.
        output = client.api.attach(container.id, stdout=True, stderr=True, stream=True, logs=True, demux=True)
        try:
            container.start()
        except docker.errors.DockerException as e:
            raise EngineError(f"the Docker engine could not start {entry['repo_tag']}: {e}") from None
        if timer:
            timer.daemon = True
            timer.start()
        for out, err in output:
            for data, stream in ((out, sys.stdout), (err, sys.stderr)):
                if data:
                    stream.buffer.write(data)
                    stream.flush()
        status = container.wait()
        code = int(status.get("StatusCode", 1))
    except _Stopped:
        pass
    finally:
        if timer:
            timer.cancel()
        for s, handler in previous.items():
            signal.signal(s, handler)
        try:
            container.remove(force=True)
        except docker.errors.DockerException:
            pass
    if stop.exit_code == EXIT_TIMEOUT:
        print(f"unikernel: stopped the container after {ns.timeout:g} s (`--unikernel-run-timeout`)", file=sys.stderr)
    elif stop.exit_code is not None:
        signum = {code: s for s, code in EXIT_SIGNAL.items()}[stop.exit_code]
        print(f"unikernel: stopped by signal {int(signum)}; the container was stopped", file=sys.stderr)
    if stop.exit_code is not None:
        return stop.exit_code
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="engine", description="Run an image's container.tar in a Docker engine.")
    p.add_argument("--bundle", required=True, help="the image's output directory (from `pants package`)")
    p.add_argument("--docker-host", help=f"the engine's address (default: $DOCKER_HOST, else {DEFAULT_HOST})")
    p.add_argument("--port", action="append", metavar="HOST:GUEST", help="publish; replaces the manifest's ports")
    p.add_argument("--no-ports", action="store_true", help="publish no port")
    p.add_argument("--network", choices=("isolated", "outbound", "host", "none"), help="override the manifest's")
    p.add_argument("--memory", type=int, metavar="MiB", help="the container's memory limit")
    p.add_argument("--cpus", type=float, help="the container's CPU limit")
    p.add_argument("--timeout", type=float, default=0, metavar="SECONDS", help="stop it after this long (exit 124)")
    p.add_argument("--volumes-dir", metavar="DIR", help="where the volumes' directories are kept (DIR/container/<serial>)")
    p.add_argument("--wipe-volumes", action="store_true", help="start with new, empty volume directories")
    p.add_argument("--replace-args", action="store_true", help="the arguments after `--` replace the image's `args`")
    p.add_argument("--note", action="append", help="a line to say on stderr before the run (pants run's notes)")
    p.add_argument("--verbose", "-v", action="store_true")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    app_args: List[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, app_args = argv[:i], argv[i + 1 :]
    ns = build_parser().parse_args(argv)
    try:
        return run(ns, app_args)
    except EngineError as e:
        print(f"unikernel: {e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
