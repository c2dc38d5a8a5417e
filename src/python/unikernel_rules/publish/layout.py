"""The unikernel artifact (standard library only): an OCI 1.1 image manifest whose layers are
the bundle's files, as they are, with our own media types (docs/publish.md).

Written as an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), which skopeo
pushes keeping every digest. Its bytes depend only on the files' digests and the image's
fields: compact sorted JSON, no timestamps, so both builds of the reproducibility test give the
same manifest digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Tuple

ARTIFACT_TYPE = "application/vnd.unikernel-rules.image.v1"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
# OCI 1.1's empty config for artifacts: the two bytes `{}`.
EMPTY_CONFIG = b"{}"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
PREFIX = "application/vnd.unikernel-rules"
# The bundle's files, in the order they are layers, and their media types.
LAYER_MEDIA_TYPES: Tuple[Tuple[str, str], ...] = (
    ("kernel", f"{PREFIX}.kernel.bzimage"),
    ("initrd", f"{PREFIX}.initrd.cpio"),
    ("cmdline", f"{PREFIX}.cmdline.v1+text"),
    ("rootfs.img", f"{PREFIX}.rootfs.squashfs"),
    ("sbom.spdx.json", "application/spdx+json"),  # SPDX's own registered media type
    ("manifest.json", f"{PREFIX}.manifest.v1+json"),
)
TITLE = "org.opencontainers.image.title"
ANNOTATION = "dev.unikernel-rules"
REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_REF = "artifact"  # the reference name inside the layout (`oci:DIR:artifact`)


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class BundleFile:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ArtifactLayout:
    manifest: bytes
    manifest_digest: str  # "sha256:<hex>"
    json_files: Tuple[Tuple[str, bytes], ...]  # (path in the layout, bytes): manifest, config, index, oci-layout
    blobs: Tuple[Tuple[str, BundleFile], ...]  # (path in the layout, the bundle file it is)


def annotations(manifest: Mapping) -> Dict[str, str]:
    """The artifact's annotations from the image's manifest.json: what a registry UI and
    `oras manifest fetch` show without downloading a layer."""
    return {
        TITLE: str(manifest.get("target", "")),
        f"{ANNOTATION}.runtime": str(manifest.get("runtime", "")),
        f"{ANNOTATION}.kernel-version": str(manifest.get("kernel_version", "")),
        f"{ANNOTATION}.memory-mib": str(manifest.get("memory_mib", "")),
        f"{ANNOTATION}.ports": ",".join(str(p["guest"]) for p in manifest.get("ports", ())),
        f"{ANNOTATION}.cmdline": str(manifest.get("cmdline", "")),
    }


def artifact_layout(files: Iterable[BundleFile], image_manifest: Mapping) -> ArtifactLayout:
    by_name = {f.name: f for f in files}
    layers: List[dict] = []
    blobs: List[Tuple[str, BundleFile]] = []
    for name, media_type in LAYER_MEDIA_TYPES:
        f = by_name.get(name)
        if f is None:
            continue
        layers.append(
            {"mediaType": media_type, "digest": f"sha256:{f.sha256}", "size": f.size, "annotations": {TITLE: name}}
        )
        blobs.append((f"blobs/sha256/{f.sha256}", f))
    config_hex = hashlib.sha256(EMPTY_CONFIG).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": f"sha256:{config_hex}", "size": len(EMPTY_CONFIG)},
        "layers": layers,
        "annotations": annotations(image_manifest),
    }
    manifest_bytes = _json(manifest)
    manifest_hex = hashlib.sha256(manifest_bytes).hexdigest()
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [
            {
                "mediaType": MANIFEST_MEDIA_TYPE,
                "artifactType": ARTIFACT_TYPE,
                "digest": f"sha256:{manifest_hex}",
                "size": len(manifest_bytes),
                "annotations": {REF_NAME: LAYOUT_REF},
            }
        ],
    }
    json_files = (
        (f"blobs/sha256/{manifest_hex}", manifest_bytes),
        (f"blobs/sha256/{config_hex}", EMPTY_CONFIG),
        ("index.json", _json(index)),
        ("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
    )
    return ArtifactLayout(manifest_bytes, f"sha256:{manifest_hex}", json_files, tuple(blobs))
