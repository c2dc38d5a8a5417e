"""Every image's SBOM (sbom.spdx.json, SPDX 2.3), checked against the built image and the locks:

- the SPDX project's own validator (spdx-tools' `pyspdxtools`, tests/tools:spdx-validate) accepts it;
- it lists every file of the guest (the squashfs root and the initramfs, unpacked with the host's
  unsquashfs and cpio) with that file's sha256, and the bundle's files; nothing else is in a package;
- origins: Debian packages with the .deb sha256 of 3rdparty/debian/debian.lock, PyPI
  distributions with the wheel hash of the app's lockfile, Maven jars with their `java_jar`
  coordinate and pinned sha256, the kernel generated from its locked source package, the init
  and the app's binary generated from their C sources;
- the manifest references it, and it is one of the published artifact's layers.

Images: our C example and two real third-party apps, unchanged: Flask's tutorial app (flaskr,
Flask and Werkzeug from PyPI) and the H2 database (a Maven jar).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest

from image_trees import disk_tree, files_only, unpack_initrd, unpack_rootfs
from pants_repo import RepoCopy
from unikernel_rules.publish.layout import BundleFile, artifact_layout

C_IMAGE = "testprojects/c/hello_http:image"
FLASKR = "testprojects/python/flaskr:image"
H2 = "testprojects/java/h2:image"
BUNDLE_FILES = {"kernel", "initrd", "cmdline", "rootfs.img"}
VALIDATOR = "tests.tools/spdx-validate.pex"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[RepoCopy]:
    repo = RepoCopy(tmp_path_factory.mktemp("sbom") / "repo")
    repo.run("package", C_IMAGE, FLASKR, H2).assert_success()
    yield repo
    repo.cleanup()


def bundle_of(repo: RepoCopy, image: str) -> Path:
    path, name = image.split(":")
    return repo.bundle(f"{path.replace('/', '.')}/{name}")


def validator() -> Path:
    for candidate in (Path.cwd(), *Path.cwd().parents):
        if (candidate / VALIDATOR).exists():
            return candidate / VALIDATOR
    raise AssertionError(f"{VALIDATOR} is not in the test's sandbox (runtime_package_dependencies)")


class Document:
    def __init__(self, path: Path) -> None:
        self.data = json.loads(path.read_text())
        self.files = {f["fileName"]: f for f in self.data["files"]}
        self.packages = {p["SPDXID"]: p for p in self.data["packages"]}
        self.by_name = {p["name"]: p for p in self.data["packages"]}
        self.contains: Dict[str, List[str]] = {}  # file ID -> package names
        for r in self.data["relationships"]:
            if r["relationshipType"] == "CONTAINS" and r["relatedSpdxElement"].startswith("SPDXRef-File-"):
                self.contains.setdefault(r["relatedSpdxElement"], []).append(self.packages[r["spdxElementId"]]["name"])

    def sha256(self, name: str) -> str:
        return next(c["checksumValue"] for c in self.files[name]["checksums"] if c["algorithm"] == "SHA256")

    def package_of(self, name: str) -> List[str]:
        return self.contains.get(self.files[name]["SPDXID"], [])

    def related(self, element: str, kind: str) -> Set[str]:
        return {r["relatedSpdxElement"] for r in self.data["relationships"] if r["spdxElementId"] == element and r["relationshipType"] == kind}

    def in_packages(self) -> Dict[str, str]:
        """fileName -> sha256 of every file some package CONTAINS (the image's files)."""
        return {name: self.sha256(name) for name, f in self.files.items() if f["SPDXID"] in self.contains}


def guest_files(bundle: Path, manifest: dict, work: Path) -> Dict[str, str]:
    """./path -> sha256 of every regular file of the guest: the initramfs's and rootfs.img's."""
    trees = [disk_tree(unpack_initrd(bundle, work / "initramfs"))]
    if manifest["root"]["kind"] == "disk":
        trees.append(disk_tree(unpack_rootfs(bundle, work / "rootfs")))
    found: Dict[str, str] = {}
    for tree in trees:
        found.update({"./" + p: v[1] for p, v in files_only(tree).items() if v[0] == "file"})
    return found


@pytest.mark.parametrize("image", [C_IMAGE, FLASKR, H2])
def test_the_sbom_is_valid_spdx_and_lists_every_file(repo: RepoCopy, image: str, tmp_path: Path) -> None:
    bundle = bundle_of(repo, image)
    manifest = json.loads((bundle / "manifest.json").read_text())
    sbom_path = bundle / manifest["sbom"]["file"]
    assert manifest["sbom"]["format"] == "SPDX-2.3"
    assert manifest["files"]["sbom.spdx.json"]["sha256"] == hashlib.sha256(sbom_path.read_bytes()).hexdigest()
    proc = subprocess.run([sys.executable, str(validator()), "-i", str(sbom_path)], capture_output=True, text=True)
    assert proc.returncode == 0 and "invalid" not in proc.stderr, proc.stderr[-4000:]

    doc = Document(sbom_path)
    expected = guest_files(bundle, manifest, tmp_path)
    expected.update({f"./{n}": manifest["files"][n]["sha256"] for n in BUNDLE_FILES if n in manifest["files"]})
    assert doc.in_packages() == expected
    assert manifest["sbom"]["files"] == len(doc.files)

    # The kernel: built from the locked source package, with the merged config's digest.
    lock = json.loads((repo.root / "3rdparty/debian/debian.lock").read_text())["packages"]
    kernel = doc.by_name["linux"]
    assert doc.package_of("./kernel") == ["linux"]
    assert kernel["versionInfo"] == manifest["kernel"]["release"]
    (source_id,) = doc.related(kernel["SPDXID"], "GENERATED_FROM")
    source = doc.packages[source_id]
    assert source["checksums"] == [{"algorithm": "SHA256", "checksumValue": lock[source["name"]]["sha256"]}]
    assert re.search(r"sha256:[0-9a-f]{64}", kernel["sourceInfo"])
    # The init, from its C sources (listed, not in the image).
    init_sources = {doc.files[n]["SPDXID"] for n in doc.files if n.startswith("./unikernel_rules/init/")}
    assert init_sources and doc.related(doc.files["./init"]["SPDXID"], "GENERATED_FROM") == init_sources
    # Every Debian package with the lock's .deb hash, and a purl.
    debian = [p for p in doc.data["packages"] if p.get("supplier") == "Organization: Debian"]
    for p in debian:
        assert p["checksums"][0]["checksumValue"] == lock[p["name"]]["sha256"], p["name"]
        assert p["externalRefs"][0]["referenceLocator"].startswith(f"pkg:deb/debian/{p['name']}@")
    # Files written by the build itself are only its own glue, never a runtime's or an app's.
    built = [n for n in doc.files if doc.package_of(n) == ["generated by unikernel_rules"]]
    # (PEX's venv: its PEX-INFO, scope marker, pyvenv.cfg and the .pth that adds PEX_EXTRA_SYS_PATH.)
    pex_glue = ("./opt/app/PEX-INFO", "./opt/app/.pex-venv-scope", "./opt/app/pyvenv.cfg", "./opt/app/lib/python3.11/site-packages/PEX_EXTRA_SYS_PATH.pth")
    assert all(n.startswith(("./etc/", "./.uk/")) or n in pex_glue for n in built), built


def test_c_binary_generated_from_its_sources(repo: RepoCopy) -> None:
    doc = Document(bundle_of(repo, C_IMAGE) / "sbom.spdx.json")
    (binary,) = [n for n in doc.files if n.startswith("./app/")]
    assert doc.package_of(binary) == ["testprojects/c/hello_http:app"]
    sources = {doc.files[n]["SPDXID"] for n in doc.files if n.startswith("./testprojects/c/hello_http/")}
    assert sources and doc.related(doc.files[binary]["SPDXID"], "GENERATED_FROM") == sources
    # Static musl: no Debian package has a file in this image.
    assert not [p for p in doc.data["packages"] if p.get("supplier") == "Organization: Debian" and p["filesAnalyzed"]]


def test_flaskr_pypi_distributions_carry_the_lockfile_hashes(repo: RepoCopy) -> None:
    doc = Document(bundle_of(repo, FLASKR) / "sbom.spdx.json")
    lock_text = (repo.root / "3rdparty/python/python-apps.lock").read_text()
    lock = json.loads("\n".join(l for l in lock_text.splitlines() if not l.startswith("//")))
    hashes = {
        a["url"].rsplit("/", 1)[-1]: a["hash"]
        for r in lock["locked_resolves"][0]["locked_requirements"]
        for a in r["artifacts"]
    }
    for name in ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker"):
        p = doc.by_name[name]
        wheel = re.search(r"Installed from (\S+), as", p["comment"]).group(1)
        assert p["checksums"] == [{"algorithm": "SHA256", "checksumValue": hashes[wheel]}], name
        assert p["externalRefs"][0]["referenceLocator"] == f"pkg:pypi/{name}@{p['versionInfo']}"
    site = next(n for n in doc.files if n.endswith("/site-packages/flask/app.py")).rsplit("/flask/", 1)[0]
    assert doc.package_of(f"{site}/flask/app.py") == ["flask"]
    assert doc.package_of(f"{site}/flask/__pycache__/app.cpython-311.pyc") == ["flask"]
    # flaskr's own modules are the repository's sources, byte for byte.
    own = f"{site}/flaskr/auth.py"
    assert doc.package_of(own) == ["testprojects/python/flaskr:app"]
    assert doc.sha256(own) == hashlib.sha256((repo.root / "testprojects/python/flaskr/flaskr/auth.py").read_bytes()).hexdigest()
    # CPython and its libraries from Debian; the CA bundle made from ca-certificates.
    assert doc.package_of("./usr/bin/python3.11") == ["python3.11-minimal"]
    assert doc.package_of("./etc/ssl/certs/ca-certificates.crt") == ["ca-certificates"]
    assert any(p.get("licenseDeclared", "NOASSERTION") != "NOASSERTION" for p in doc.data["packages"] if p.get("supplier"))


def test_h2_maven_jar_and_jlink_runtime(repo: RepoCopy) -> None:
    doc = Document(bundle_of(repo, H2) / "sbom.spdx.json")
    build = (repo.root / "3rdparty/jvm/BUILD").read_text()
    pinned = re.search(r'coordinate="com\.h2database:h2:2\.3\.232",\s*sha256="([0-9a-f]{64})"', build).group(1)
    h2 = doc.by_name["com.h2database:h2"]
    assert h2["versionInfo"] == "2.3.232"
    assert h2["checksums"] == [{"algorithm": "SHA256", "checksumValue": pinned}]
    assert h2["externalRefs"][0]["referenceLocator"] == "pkg:maven/com.h2database/h2@2.3.232"
    (jar,) = [n for n in doc.files if doc.package_of(n) == ["com.h2database:h2"]]
    assert doc.sha256(jar) == pinned
    # The jlink runtime is generated from the JDK package; its C libraries are Debian's own.
    assert doc.package_of("./opt/java/lib/modules") == ["openjdk-17-jdk-headless"]
    libc = next(n for n in doc.files if n.endswith("/libc.so.6"))
    assert doc.package_of(libc) == ["libc6"]


def test_the_published_artifact_has_the_sbom_as_a_layer(repo: RepoCopy) -> None:
    bundle = bundle_of(repo, C_IMAGE)
    manifest = json.loads((bundle / "manifest.json").read_text())
    files = [BundleFile(n, f["sha256"], f["size"]) for n, f in manifest["files"].items()]
    layout = artifact_layout(files, manifest)
    layers = json.loads(layout.manifest)["layers"]
    (sbom,) = [l for l in layers if l["mediaType"] == "application/spdx+json"]
    assert sbom["digest"] == "sha256:" + manifest["files"]["sbom.spdx.json"]["sha256"]
