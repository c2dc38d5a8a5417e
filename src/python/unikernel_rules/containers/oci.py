#!/usr/bin/env python3
"""Write an image's root tree as a container image: one reproducible tarball that is both an OCI
image layout (for skopeo, podman, containerd: `oci-archive:`) and a `docker load` archive.

Runs inside a Pants sandbox as a cached process (and is imported by unit tests). Standard
library only; works on CPython 3.7+.

    oci.py SPEC.json

SPEC keys:
  root:        directory whose contents become the container's `/` (the image's root tree: the
               app, its runtime and the guest's /etc, without kernel and init)
  output:      the tarball to write
  report:      a JSON file to write: the digests of the layer, config and manifest
  dirs:        [{"path": "tmp", "mode": 1023}, ...]: directories the layer must hold; with "uid"
               and "gid", owned by them (the app's working directory and writable paths,
               which the VM's init gives to the app's user at boot)
  files:       [{"path": "disk/disk.qcow2", "uid": 107, "gid": 107}]: files owned by them
  config:      the OCI image config's `config` object (Entrypoint, Cmd, Env, WorkingDir, User,
               ExposedPorts, Labels)
  annotations: the manifest's annotations
  repo_tag:    the name `docker load` tags the image with (`repository:tag`)

Layout of the tarball:
  oci-layout, index.json              the OCI image layout (index.json names the manifest)
  manifest.json                       docker-archive's manifest (Config, RepoTags, Layers)
  blobs/sha256/<hex>                  the layer (tar+gzip), the config and the OCI manifest

Determinism: every tar entry (layer and outer tarball) is sorted by path, has mtime 0, uid/gid 0
and no user or group names; modes are normalised as the squashfs root's are (directories and
executables 0755, other files 0644, the `dirs` keep theirs); gzip has mtime 0, no file name and
level 9 (its bytes are those of the Python running this, the locked one in builds); JSON is
sorted and compact. Nothing depends on the sandbox's path, umask or clock.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile
from typing import BinaryIO, Dict, List, Tuple

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
CHUNK = 1 << 20


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class _Hashing:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


def _info(name: str, kind: bytes, mode: int, size: int = 0, linkname: str = "", owner: Tuple[int, int] = (0, 0)) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = linkname
    info.mtime = 0
    info.uid, info.gid = owner
    info.uname = info.gname = ""
    return info


def layer_entries(root: str, dirs: Dict[str, int]) -> List[Tuple[str, str]]:
    """(path in the layer, path on disk) of every entry under `root` and every `dirs` entry
    (disk path "" when it is not under root), sorted by layer path; parents come first."""
    found: Dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            found[os.path.relpath(full, root).replace(os.sep, "/")] = full
    for path in dirs:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            found.setdefault("/".join(parts[:i]), "")
    return sorted(found.items())


def write_layer(root: str, dirs: Dict[str, int], out: BinaryIO, owners: Dict[str, Tuple[int, int]] = {}) -> None:
    """The root tree as an uncompressed PAX tar."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, full in layer_entries(root, dirs):
            owner = owners.get(path, (0, 0))
            if not full:
                tar.addfile(_info(path, tarfile.DIRTYPE, dirs.get(path, 0o755), owner=owner))
                continue
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                tar.addfile(_info(path, tarfile.SYMTYPE, 0o777, linkname=os.readlink(full)))
            elif stat.S_ISDIR(st.st_mode):
                tar.addfile(_info(path, tarfile.DIRTYPE, dirs.get(path, 0o755), owner=owner))
            elif stat.S_ISREG(st.st_mode):
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                with open(full, "rb") as f:
                    tar.addfile(_info(path, tarfile.REGTYPE, mode, size=st.st_size, owner=owner), f)
            else:
                raise SystemExit(f"UNIKERNEL_CONTAINER_ERROR {path}: not a file, directory or symlink")


def _blob(tar: tarfile.TarFile, digest: str, data: bytes = b"", source: str = "") -> None:
    name = f"blobs/sha256/{digest}"
    if source:
        with open(source, "rb") as f:
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, size=os.path.getsize(source)), f)
    else:
        tar.addfile(_info(name, tarfile.REGTYPE, 0o644, size=len(data)), io.BytesIO(data))


def build(spec: dict) -> dict:
    root = spec["root"]
    os.makedirs(root, exist_ok=True)
    dirs = {d["path"].strip("/"): int(d["mode"]) for d in spec.get("dirs", ()) if d["path"].strip("/")}
    owners = {
        d["path"].strip("/"): (int(d["uid"]), int(d["gid"]))
        for d in (*spec.get("dirs", ()), *spec.get("files", ()))
        if "uid" in d and d["path"].strip("/")
    }
    output = spec["output"]
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    layer_tar = output + ".layer.tar"
    layer_gz = output + ".layer.tar.gz"
    # The uncompressed layer (its sha256 is the config's diff_id), then its gzip (the blob).
    with open(layer_tar, "wb") as raw:
        write_layer(root, dirs, raw, owners)
    diff = hashlib.sha256()
    with open(layer_gz, "wb") as gz_out:
        hashed_gz = _Hashing(gz_out)
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=hashed_gz, mtime=0) as gz:  # type: ignore[arg-type]
            with open(layer_tar, "rb") as src:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    diff.update(chunk)
                    gz.write(chunk)
    diff_id = diff.hexdigest()
    os.unlink(layer_tar)
    layer_digest, layer_size = hashed_gz.sha256.hexdigest(), hashed_gz.size

    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": spec["config"],
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "created": "1970-01-01T00:00:00Z",
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "unikernel_rules (the image's root tree)"}],
    }
    config_bytes = _json(config)
    config_digest = hashlib.sha256(config_bytes).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": f"sha256:{config_digest}", "size": len(config_bytes)},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": f"sha256:{layer_digest}", "size": layer_size}],
        "annotations": dict(spec.get("annotations", {})),
    }
    manifest_bytes = _json(manifest)
    manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
    repo_tag = spec["repo_tag"]
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [
            {
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": f"sha256:{manifest_digest}",
                "size": len(manifest_bytes),
                "annotations": {
                    "io.containerd.image.name": repo_tag,
                    "org.opencontainers.image.ref.name": repo_tag.rsplit(":", 1)[1],
                },
            }
        ],
    }
    docker_manifest = [
        {
            "Config": f"blobs/sha256/{config_digest}",
            "RepoTags": [repo_tag],
            "Layers": [f"blobs/sha256/{layer_digest}"],
        }
    ]
    blobs = sorted(
        [(config_digest, config_bytes, ""), (manifest_digest, manifest_bytes, ""), (layer_digest, b"", layer_gz)]
    )
    with open(output, "wb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_info("blobs", tarfile.DIRTYPE, 0o755))
        tar.addfile(_info("blobs/sha256", tarfile.DIRTYPE, 0o755))
        for digest, data, source in blobs:
            _blob(tar, digest, data, source)
        for name, data in (
            ("index.json", _json(index)),
            ("manifest.json", _json(docker_manifest)),
            ("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
        ):
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, size=len(data)), io.BytesIO(data))
    os.unlink(layer_gz)
    report = {
        "repo_tag": repo_tag,
        "manifest_digest": f"sha256:{manifest_digest}",
        "config_digest": f"sha256:{config_digest}",
        "layer_digest": f"sha256:{layer_digest}",
        "layer_size": layer_size,
        "diff_id": f"sha256:{diff_id}",
    }
    if spec.get("report"):
        with open(spec["report"], "w") as f:
            json.dump(report, f, sort_keys=True)
    return report


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        build(json.load(f))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
