from __future__ import annotations

import hashlib
import json

from unikernel_rules.publish.layout import ARTIFACT_TYPE, EMPTY_MEDIA_TYPE, BundleFile, artifact_layout

FILES = [
    BundleFile("manifest.json", "d" * 64, 40),
    BundleFile("cmdline", "c" * 64, 30),
    BundleFile("kernel", "a" * 64, 1000),
    BundleFile("initrd", "b" * 64, 500),
    BundleFile("container.tar", "e" * 64, 700),  # not part of the artifact: pushed as its own image
    BundleFile("sbom.spdx.json", "9" * 64, 60),
]
MANIFEST = {"target": "t:image", "runtime": "c", "kernel_version": "6.1.176", "memory_mib": 64,
            "ports": [{"host": 18080, "guest": 8080}], "cmdline": "console=ttyS0"}


def test_layers_in_bundle_order_with_titles_and_media_types() -> None:
    layout = artifact_layout(FILES, MANIFEST)
    manifest = json.loads(layout.manifest)
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["config"] == {
        "mediaType": EMPTY_MEDIA_TYPE, "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(), "size": 2
    }
    titles = [layer["annotations"]["org.opencontainers.image.title"] for layer in manifest["layers"]]
    assert titles == ["kernel", "initrd", "cmdline", "sbom.spdx.json", "manifest.json"]
    assert manifest["layers"][3]["mediaType"] == "application/spdx+json"
    assert manifest["layers"][0] == {
        "mediaType": "application/vnd.unikernel-rules.kernel.bzimage", "digest": "sha256:" + "a" * 64, "size": 1000,
        "annotations": {"org.opencontainers.image.title": "kernel"},
    }
    assert manifest["annotations"] == {
        "org.opencontainers.image.title": "t:image",
        "dev.unikernel-rules.runtime": "c",
        "dev.unikernel-rules.kernel-version": "6.1.176",
        "dev.unikernel-rules.memory-mib": "64",
        "dev.unikernel-rules.ports": "8080",
        "dev.unikernel-rules.cmdline": "console=ttyS0",
    }
    assert layout.manifest_digest == "sha256:" + hashlib.sha256(layout.manifest).hexdigest()
    assert [path for path, _ in layout.blobs] == [f"blobs/sha256/{c * 64}" for c in "abc9d"]


def test_the_layout_depends_only_on_digests_and_fields() -> None:
    a = artifact_layout(FILES, MANIFEST)
    b = artifact_layout(list(reversed(FILES)), dict(reversed(list(MANIFEST.items()))))
    assert a == b
    index = json.loads(dict(a.json_files)["index.json"])
    assert index["manifests"][0]["digest"] == a.manifest_digest
    assert dict(a.json_files)[f"blobs/sha256/{a.manifest_digest.split(':')[1]}"] == a.manifest
    changed = artifact_layout([*FILES[:2], BundleFile("kernel", "f" * 64, 1000), *FILES[3:]], MANIFEST)
    assert changed.manifest_digest != a.manifest_digest
