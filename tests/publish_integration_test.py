"""`pants publish` of unikernel images to a real OCI registry (Debian's docker-registry, started
here on a free loopback port and stopped by pid), read back with an independent client (skopeo):

- every example is pushed as the unikernel artifact (its bundle files as layers, our media types
  and annotations), with the `container` format as a container image, and with `qcow2` as a
  KubeVirt containerDisk (/disk/disk.qcow2, uid/gid 107); the registry serves
  the same manifest digests as the build computed and the same bytes as the bundle's files;
- a second publish of unchanged images uploads no blob (the registry's log: no upload started);
- what a push stopped midway leaves (blobs, no manifest) tags nothing, and publishing again
  uploads only the missing blobs and tags the image;
- `skip_push`; bad inputs: an unreachable registry (the error names it and its address, nothing
  is reported as published), authentication refused, an unknown alias, an invalid repository
  and an invalid tag.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from docker_engine import blob_uploads, registry
from pants_repo import RepoCopy
from unikernel_rules.publish.layout import ARTIFACT_TYPE, BundleFile, artifact_layout
from unikernel_rules.qemu import launcher

EXAMPLES = {
    "testprojects/c/hello_http:image": "testprojects.c.hello_http/image",
    "testprojects/python/hello_http:image": "testprojects.python.hello_http/image",
    "testprojects/java/hello_http:image": "testprojects.java.hello_http/image",
}
# bcrypt of "s3cret" for the user "ci" (docker-registry's htpasswd takes bcrypt only).
HTPASSWD = "ci:$2b$05$abcdefghijklmnopqrstuuLK7U1u6pVRmL7L1BBM2aS35PSZnDXlK\n"


@pytest.fixture(scope="module")
def reg() -> Iterator[Tuple[str, Path]]:
    with registry() as r:
        yield r


@pytest.fixture(scope="module")
def repo(tmp_path_factory, reg: Tuple[str, Path]) -> Iterator[RepoCopy]:
    address, _ = reg
    repo = RepoCopy(tmp_path_factory.mktemp("publish") / "repo")
    for target in EXAMPLES:
        build = repo.root / target.split(":")[0] / "BUILD"
        text = build.read_text()
        assert "unikernel_image(\n" in text
        # This copy's images name the test's registry (an address, and an alias of pants.toml).
        build.write_text(text.replace(
            "unikernel_image(\n", f'unikernel_image(\n    registries=["{address}", "@ci"],\n    image_tags=["1.0", "latest"],\n', 1
        ))
    toml = repo.root / "pants.toml"
    toml.write_text(toml.read_text() + f'\n[unikernel-publish.registries]\nci = {{address = "{address}"}}\n')
    yield repo
    repo.cleanup()


def skopeo(*args: str) -> bytes:
    return subprocess.run(["skopeo", *args], capture_output=True, check=True).stdout


def check_containerdisk(address: str, repository: str, qcow2: Path, work: Path) -> None:
    """KubeVirt's containerDisk: one layer holding /disk/disk.qcow2 (the image's disk, byte for
    byte) owned by uid/gid 107."""
    skopeo("copy", "--src-tls-verify=false", f"docker://{address}/{repository}:1.0-containerdisk", f"oci:{work}:x")
    index = json.loads((work / "index.json").read_text())
    manifest = json.loads((work / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    (layer,) = manifest["layers"]
    with tarfile.open(work / "blobs/sha256" / layer["digest"].split(":")[1]) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["disk", "disk/disk.qcow2"]
        assert all((m.uid, m.gid) == (107, 107) for m in members.values())
        assert tar.extractfile("disk/disk.qcow2").read() == qcow2.read_bytes()


def test_publish_every_example_and_read_it_back(repo: RepoCopy, reg: Tuple[str, Path], tmp_path: Path) -> None:
    address, log = reg
    result = repo.run("publish", *EXAMPLES)
    assert result.exit_code == 0, result.stderr[-5000:]
    for target, dotted in EXAMPLES.items():
        repository = target.replace(":", "/")
        assert f"{address}/{repository}:1.0 published" in result.stderr, result.stderr[-3000:]
        assert f"{address}/{repository}:latest-container published" in result.stderr
        repo.run("package", target).assert_success()
        bundle = repo.bundle(dotted)
        manifest = json.loads((bundle / "manifest.json").read_text())
        # The artifact: the registry serves the manifest the build computes, byte for byte.
        files = [
            BundleFile(p.name, hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
            for p in bundle.iterdir() if p.is_file()
        ]
        expected = artifact_layout(files, manifest)
        raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{address}/{repository}:1.0")
        assert raw == expected.manifest
        served = json.loads(raw)
        assert served["artifactType"] == ARTIFACT_TYPE
        assert served["annotations"]["dev.unikernel-rules.runtime"] == manifest["runtime"]
        assert served["annotations"]["dev.unikernel-rules.kernel-version"] == manifest["kernel_version"]
        titles = [layer["annotations"]["org.opencontainers.image.title"] for layer in served["layers"]]
        assert titles[:3] == ["kernel", "initrd", "cmdline"] and titles[-1] == "manifest.json"
        # Pulled back by skopeo: every layer is the bundle's file.
        pulled = tmp_path / dotted.replace("/", "-")
        skopeo("copy", "--src-tls-verify=false", f"docker://{address}/{repository}:latest", f"oci:{pulled}:x")
        for layer in served["layers"]:
            name = layer["annotations"]["org.opencontainers.image.title"]
            blob = pulled / "blobs" / "sha256" / layer["digest"].split(":")[1]
            assert blob.read_bytes() == (bundle / name).read_bytes(), name
        # The container image: the digest its container.tar holds.
        container = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{address}/{repository}:1.0-container"))
        assert container["Digest"] == manifest["formats"]["container"]["manifest_digest"]
        if "qcow2" in manifest["formats"]:
            check_containerdisk(address, repository, bundle / "disk.qcow2", tmp_path / "cd")
    assert blob_uploads(log) > 0

    # Unchanged: a second publish uploads no blob (skopeo asks the registry for each first).
    before = blob_uploads(log)
    again = repo.run("publish", *EXAMPLES)
    assert again.exit_code == 0, again.stderr[-3000:]
    assert blob_uploads(log) == before


def test_skip_push_pushes_nothing(repo: RepoCopy, reg: Tuple[str, Path]) -> None:
    address, log = reg
    repo.write(
        "testprojects/publish/skip/BUILD",
        f'unikernel_image(name="image", dependencies=["//testprojects/c/run_probe:app"], memory=64, '
        f'registries=["{address}"], skip_push=True)\n',
    )
    result = repo.run("publish", "testprojects/publish/skip:image")
    assert result.exit_code == 0, result.stderr[-3000:]
    assert "skipped" in result.stderr and "skip_push" in result.stderr, result.stderr[-3000:]
    assert "testprojects/publish/skip/image" not in log.read_text(errors="replace")


def test_unreachable_registry_names_it_and_publishes_nothing(repo: RepoCopy) -> None:
    closed = f"127.0.0.1:{launcher.free_port()}"
    repo.write(
        "testprojects/publish/nowhere/BUILD",
        f'unikernel_image(name="image", dependencies=["//testprojects/c/run_probe:app"], memory=64, registries=["{closed}"])\n',
    )
    result = repo.run("publish", "testprojects/publish/nowhere:image")
    assert result.exit_code != 0
    assert f"cannot reach the registry {closed} at {closed}: nothing was published there" in result.stderr, result.stderr[-3000:]
    assert " published." not in result.stderr


def test_authentication_refused(repo: RepoCopy) -> None:
    with registry(htpasswd=HTPASSWD) as (address, _):
        repo.write(
            "testprojects/publish/auth/BUILD",
            f'unikernel_image(name="image", dependencies=["//testprojects/c/run_probe:app"], memory=64, registries=["{address}"])\n',
        )
        result = repo.run("publish", "testprojects/publish/auth:image")
    assert result.exit_code != 0
    assert f"the registry {address} at {address} refused the credentials" in result.stderr, result.stderr[-3000:]
    assert f"skopeo login {address}" in result.stderr


@pytest.mark.parametrize(
    "fields,message",
    [
        ('registries=["@nowhere"]', "names the registry alias @nowhere, which `[unikernel-publish].registries` does not define (known: @ci)"),
        ('registries=["https://r.example.com/x"]', "which is neither a registry address"),
        ('registries=["r.example.com"], repository="Apps/Hello"', "is 'Apps/Hello', which is not a valid repository name"),
        ('registries=["r.example.com"], image_tags=[".bad"]', "lists '.bad': a tag is letters, digits"),
    ],
)
def test_bad_publish_fields(repo: RepoCopy, fields: str, message: str) -> None:
    repo.write(
        "testprojects/publish/bad/BUILD",
        f'unikernel_image(name="image", dependencies=["//testprojects/c/run_probe:app"], memory=64, {fields})\n',
    )
    result = repo.run("publish", "testprojects/publish/bad:image")
    assert result.exit_code != 0
    assert "testprojects/publish/bad:image" in result.stderr and message in " ".join(result.stderr.split()), result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def _upload_blob(address: str, repository: str, data: bytes) -> None:
    """One blob through the distribution API (POST, then a monolithic PUT): what a push that was
    stopped after its first upload leaves behind."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    start = opener.open(urllib.request.Request(f"http://{address}/v2/{repository}/blobs/uploads/", method="POST", data=b""))
    location = urllib.parse.urljoin(f"http://{address}/", start.headers["Location"])
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    put = urllib.request.Request(
        f"{location}{'&' if '?' in location else '?'}digest={digest}", method="PUT", data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert opener.open(put).status == 201


def test_an_interrupted_push_tags_nothing_and_a_rerun_completes_it(repo: RepoCopy) -> None:
    with registry() as (address, log):
        repo.write(
            "testprojects/publish/partial/BUILD",
            f'unikernel_image(name="image", dependencies=["//testprojects/c/run_probe:app"], memory=64, '
            f'registries=["{address}"], repository="partial")\n',
        )
        target = "testprojects/publish/partial:image"
        repo.run("package", target).assert_success()
        bundle = repo.bundle("testprojects.publish.partial/image")
        # The state a push stopped midway leaves: the kernel's blob uploaded, no manifest.
        _upload_blob(address, "partial", (bundle / "kernel").read_bytes())
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"http://{address}/v2/partial/manifests/latest")
        assert missing.value.code == 404  # nothing is tagged
        before = blob_uploads(log)
        result = repo.run("publish", target)
        assert result.exit_code == 0 and f"{address}/partial:latest published" in result.stderr, result.stderr[-3000:]
        # The rerun uploaded what was missing (initrd, cmdline, the SBOM, manifest.json, the
        # empty config), not the kernel again, and tagged the image.
        assert blob_uploads(log) - before == 5
        served = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{address}/partial:latest"))
        assert [layer["annotations"]["org.opencontainers.image.title"] for layer in served["layers"]] == [
            "kernel", "initrd", "cmdline", "sbom.spdx.json", "manifest.json"
        ]
