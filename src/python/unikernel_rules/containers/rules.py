"""The `container` format: the image's root tree (app + runtime + the guest's /etc, the same
bytes the VM's root holds, without kernel and init) as one OCI image / docker-archive tarball,
with the image's command, args, env, workdir, user and ports as its config. One cached process
(oci.py on the locked Python)."""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import Mapping, Tuple

from pants.engine.addresses import Address
from pants.engine.fs import AddPrefix, CreateDigest, Digest, DigestContents, DigestSubset, FileContent, MergeDigests, PathGlobs, RemovePrefix
from pants.engine.process import Process, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from unikernel_rules.debian.tool_python import ToolPython, ToolPythonRequest
from unikernel_rules.target_types.publish import default_repository

CONTAINER_FILE = "container.tar"
CONTAINER_TAG = "latest"
# Mount points and scratch space a container runtime expects in the image (the VM's initramfs
# and squashfs root have the same directories).
CONTAINER_DIRS = (("dev", 0o755), ("proc", 0o555), ("sys", 0o555), ("tmp", 0o1777))
ANNOTATION_PREFIX = "dev.unikernel-rules"


@dataclass(frozen=True)
class ContainerImageRequest:
    address: Address
    root: Digest  # the image's root tree at guest paths
    entrypoint: Tuple[str, ...]  # the command (the VM's argv before the image's `args`)
    cmd: Tuple[str, ...]  # the image's `args` (what `docker run IMAGE ARGS` replaces)
    env: FrozenDict[str, str]
    workdir: str
    uid: int
    gid: int
    ports: Tuple[int, ...]  # the guest ports
    # Directories the app's user owns (its working directory and `writable_paths`: the VM's
    # init gives them to it at boot).
    owned_dirs: Tuple[str, ...]
    labels: FrozenDict[str, str]  # runtime, kernel version, ...: annotations and labels
    # Files the user (uid/gid) owns too (a KubeVirt containerDisk's disk image).
    owned_files: Tuple[str, ...] = ()
    tag: str = CONTAINER_TAG  # the tag `docker load` gives it
    mount_dirs: bool = True  # add CONTAINER_DIRS (not for a containerDisk: a disk, never run)


@dataclass(frozen=True)
class ContainerImage:
    digest: Digest  # the single file CONTAINER_FILE
    repo_tag: str
    manifest_digest: str
    config_digest: str
    layer_digest: str
    layer_size: int
    file: str = CONTAINER_FILE

    def manifest_entry(self, order: int, size: int) -> dict:
        """The image manifest's `formats.container` entry."""
        return {
            "file": CONTAINER_FILE,
            "size": size,
            "order": order,
            "repo_tag": self.repo_tag,
            "manifest_digest": self.manifest_digest,
            "config_digest": self.config_digest,
            "layer_digest": self.layer_digest,
        }


def container_spec(request: ContainerImageRequest, repo_tag: str) -> dict:
    labels = {f"{ANNOTATION_PREFIX}.{k}": v for k, v in sorted(request.labels.items())}
    labels["org.opencontainers.image.title"] = str(request.address)
    config: dict = {
        "Entrypoint": list(request.entrypoint),
        "Env": [f"{k}={v}" for k, v in sorted(request.env.items())],
        "WorkingDir": request.workdir,
        "User": f"{request.uid}:{request.gid}",
        "Labels": labels,
    }
    if request.cmd:
        config["Cmd"] = list(request.cmd)
    if request.ports:
        config["ExposedPorts"] = {f"{p}/tcp": {} for p in sorted(set(request.ports))}
    return {
        "root": "root",
        "output": f"out/{CONTAINER_FILE}",
        "report": "out/report.json",
        "dirs": [
            *({"path": p, "mode": m} for p, m in (CONTAINER_DIRS if request.mount_dirs else ())),
            *(
                {"path": p, "mode": 0o755, "uid": request.uid, "gid": request.gid}
                for p in request.owned_dirs
                if p.strip("/") and request.uid != 0
            ),
        ],
        "files": [{"path": p, "uid": request.uid, "gid": request.gid} for p in request.owned_files],
        "config": config,
        "annotations": labels,
        "repo_tag": repo_tag,
    }


@rule(desc="Build a container image from an image's root tree", level=LogLevel.DEBUG)
async def build_container_image(request: ContainerImageRequest) -> ContainerImage:
    # `docker load` tags it with the image's default publish repository.
    repo_tag = f"{default_repository(request.address)}:{request.tag}"
    script = importlib.resources.read_binary("unikernel_rules.containers", "oci.py")
    spec = container_spec(request, repo_tag)
    root = await Get(Digest, AddPrefix(request.root, "root"))
    tool_files = await Get(
        Digest,
        CreateDigest(
            [FileContent("oci.py", script), FileContent("spec.json", json.dumps(spec, sort_keys=True).encode())]
        ),
    )
    input_digest, python = await MultiGet(
        Get(Digest, MergeDigests([root, tool_files])), Get(ToolPython, ToolPythonRequest())
    )
    result = await Get(
        ProcessResult,
        Process(
            # The locked Python (its zlib makes the layer's gzip bytes) is an input.
            argv=python.argv("oci.py", "spec.json"),
            input_digest=input_digest,
            immutable_input_digests=python.immutable_input_digests,
            output_files=(f"out/{CONTAINER_FILE}", "out/report.json"),
            description=f"Building the container image of {request.address}",
            env=python.env(),
            level=LogLevel.DEBUG,
        ),
    )
    out = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    tarball, report_contents = await MultiGet(
        Get(Digest, DigestSubset(out, PathGlobs([CONTAINER_FILE]))),
        Get(DigestContents, DigestSubset(out, PathGlobs(["report.json"]))),
    )
    report: Mapping = json.loads(report_contents[0].content)
    return ContainerImage(
        digest=tarball,
        repo_tag=report["repo_tag"],
        manifest_digest=report["manifest_digest"],
        config_digest=report["config_digest"],
        layer_digest=report["layer_digest"],
        layer_size=report["layer_size"],
    )


def rules():
    return collect_rules()
