import hashlib
import json
import os

import pytest

from unikernel_rules.sbom import spdx

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: zlib

Files: *
Copyright: 1995-2013 Jean-loup Gailly and Mark Adler
License: Zlib

Files: contrib/*
Copyright: someone
License: GPL-2+ or Artistic

Files: odd/*
Copyright: someone else
License: Odd-Licence
 The odd licence's text.
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


@pytest.fixture
def spec(tmp_path):
    os.chdir(tmp_path)
    site = "root/opt/app/lib/python3.11/site-packages"
    files = {
        "root/usr/lib/libz.so.1": b"\x7fELF zlib",  # copied from the package
        "root/usr/lib/libc.so.6": b"\x7fELF stripped libc",  # changed at build (stripped)
        "root/usr/lib/python3.11/__pycache__/os.cpython-311.pyc": b"pyc of os",  # compiled stdlib
        "root/opt/java/lib/modules": b"jimage",  # generated from the JDK
        "root/app/hello": b"\x7fELF hello",  # built from the sources
        "root/app/lib/h2.jar": b"PK h2",
        f"{site}/flask/__init__.py": b"flask",
        f"{site}/flask/__pycache__/__init__.cpython-311.pyc": b"pyc of flask",
        f"{site}/flask-3.0.3.dist-info/METADATA": b"Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.3\nClassifier: License :: OSI Approved :: BSD License\n\nbody: License: MIT\n",
        f"{site}/flask-3.0.3.dist-info/RECORD": b"flask/__init__.py,sha256=x,5\nflask-3.0.3.dist-info/METADATA,,\n",
        f"{site}/myapp.py": b"print('mine')\n",  # the app's own source, copied
        f"{site}/__pycache__/myapp.cpython-311.pyc": b"pyc of mine",  # sorts before myapp.py
        "root/etc/hostname": b"app\n",  # written by the build
        "sources/src/myapp.py": b"print('mine')\n",
        "sources/src/hello.c": b"int main(){}\n",
        "init_sources/main.c": b"int main(){}\n",
        "extra/init": b"\x7fELF init",
        "extra/.uk/init.conf": b"conf",
        "bundle/kernel": b"bzImage",
        "bundle/initrd": b"cpio",
        "copyright/zlib1g": COPYRIGHT.encode(),
    }
    for path, data in files.items():
        write(path, data)
    os.symlink("libz.so.1", "root/usr/lib/libz.so")
    return {
        "root": "root",
        "extra": [
            {"path": "init", "file": "extra/init", "origin": "init"},
            {"path": ".uk/init.conf", "file": "extra/.uk/init.conf", "origin": "build"},
        ],
        "bundle": [{"name": "initrd", "file": "bundle/initrd", "origin": "image"}, {"name": "kernel", "file": "bundle/kernel", "origin": "kernel"}],
        "debian": [
            {"name": "zlib1g", "version": "1:1.2.13.dfsg-1", "architecture": "amd64", "sha256": "a" * 64,
             "files": {"usr/lib/libz.so.1": sha256(b"\x7fELF zlib"), "usr/share/doc/zlib1g/copyright": "0" * 64},
             "copyright": "copyright/zlib1g"},
            {"name": "libc6", "version": "2.36-9", "architecture": "amd64", "sha256": "b" * 64,
             "files": {"usr/lib/libc.so.6": sha256(b"\x7fELF libc")}, "copyright": None},
            {"name": "libpython3.11-stdlib", "version": "3.11.2-6", "architecture": "amd64", "sha256": "c" * 64,
             "files": {"usr/lib/python3.11/os.py": "1" * 64}, "copyright": None},
            {"name": "openjdk-17-jdk-headless", "version": "17.0.15", "architecture": "amd64", "sha256": "d" * 64,
             "files": {}, "copyright": None},
            {"name": "linux-source-6.1", "version": "6.1.140-1", "architecture": "all", "sha256": "e" * 64,
             "files": {}, "copyright": None},
            {"name": "unused", "version": "1", "architecture": "all", "sha256": "f" * 64, "files": {"x": "2" * 64}, "copyright": None},
        ],
        "derived": {"opt/java/": "openjdk-17-jdk-headless"},
        "python": [{"name": "flask", "version": "3.0.3", "artifact": "flask-3.0.3-py3-none-any.whl", "sha256": "9" * 64, "lockfile": "3rdparty/python/python-apps.lock"}],
        "jars": [{"path": "app/lib/h2.jar", "coordinate": "com.h2database:h2:2.2.224", "sha256": sha256(b"PK h2"), "label": "//:h2"}],
        "sources": "sources",
        "built_from_sources": ["app/hello"],
        "init_sources": "init_sources",
        "kernel": {"release": "6.1.140", "version": "6.1.140", "config_sha256": "8" * 64, "fragments": ["builtin:base"],
                   "source": {"name": "linux-source-6.1", "version": "6.1.140-1"}},
        "image": {"target": "a:image", "app": "a:app", "runtime": "c"},
        "out": "out/sbom.spdx.json",
        "report": "report/sbom.json",
    }


def by_name(document):
    return {f["fileName"]: f for f in document["files"]}


def package_of(document, file_name):
    fid = by_name(document)[file_name]["SPDXID"]
    owners = [r["spdxElementId"] for r in document["relationships"] if r["relationshipType"] == "CONTAINS" and r["relatedSpdxElement"] == fid]
    names = {p["SPDXID"]: p["name"] for p in document["packages"]}
    return [names[o] for o in owners]


def test_every_file_gets_its_origin(spec):
    document, report = spdx.build(spec)
    assert package_of(document, "./usr/lib/libz.so.1") == ["zlib1g"]
    assert package_of(document, "./usr/lib/libc.so.6") == ["libc6"]
    assert "Changed at build" in by_name(document)["./usr/lib/libc.so.6"]["comment"]
    assert package_of(document, "./usr/lib/python3.11/__pycache__/os.cpython-311.pyc") == ["libpython3.11-stdlib"]
    assert package_of(document, "./opt/java/lib/modules") == ["openjdk-17-jdk-headless"]
    assert package_of(document, "./app/hello") == ["a:app"]
    assert package_of(document, "./app/lib/h2.jar") == ["com.h2database:h2"]
    site = "./opt/app/lib/python3.11/site-packages"
    assert package_of(document, f"{site}/flask/__init__.py") == ["flask"]
    assert package_of(document, f"{site}/flask/__pycache__/__init__.cpython-311.pyc") == ["flask"]
    assert package_of(document, f"{site}/flask-3.0.3.dist-info/METADATA") == ["flask"]
    assert package_of(document, f"{site}/myapp.py") == ["a:app"]
    assert package_of(document, f"{site}/__pycache__/myapp.cpython-311.pyc") == ["a:app"]
    assert package_of(document, "./etc/hostname") == ["generated by unikernel_rules"]
    assert package_of(document, "./init") == ["unikernel_rules init"]
    assert package_of(document, "./kernel") == ["linux"]
    assert package_of(document, "./initrd") == ["a:image"]
    assert "./usr/lib/libz.so" not in by_name(document)  # a symlink: no content of its own
    # Sources are SOURCE files the built files are GENERATED_FROM, not files of the image.
    hello = by_name(document)["./app/hello"]["SPDXID"]
    generated_from = {r["relatedSpdxElement"] for r in document["relationships"] if r["spdxElementId"] == hello and r["relationshipType"] == "GENERATED_FROM"}
    sources = {f["SPDXID"] for f in document["files"] if f["fileName"].startswith("./src/")}
    assert generated_from == sources and len(sources) == 2
    assert report["origins"] == {"app": 3, "build": 2, "debian": 4, "init": 1, "jar": 1, "pypi": 4}
    checksums = by_name(document)["./usr/lib/libz.so.1"]["checksums"]
    assert checksums == [
        {"algorithm": "SHA1", "checksumValue": hashlib.sha1(b"\x7fELF zlib").hexdigest()},
        {"algorithm": "SHA256", "checksumValue": sha256(b"\x7fELF zlib")},
    ]


def test_packages_carry_the_locked_hashes_and_licences(spec):
    document, _ = spdx.build(spec)
    packages = {p["name"]: p for p in document["packages"]}
    assert "unused" not in packages  # no file of it is in the image
    zlib = packages["zlib1g"]
    assert zlib["checksums"] == [{"algorithm": "SHA256", "checksumValue": "a" * 64}]
    assert zlib["externalRefs"][0]["referenceLocator"] == "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64"
    assert zlib["licenseDeclared"] == "(GPL-2.0-or-later OR Artistic-1.0-Perl) AND LicenseRef-Odd-Licence AND Zlib"
    assert document["hasExtractedLicensingInfos"] == [
        {"licenseId": "LicenseRef-Odd-Licence", "name": "Odd-Licence", "extractedText": "The odd licence's text."}
    ]
    assert packages["libc6"]["licenseDeclared"] == "NOASSERTION"
    flask = packages["flask"]
    assert flask["checksums"] == [{"algorithm": "SHA256", "checksumValue": "9" * 64}]
    assert flask["licenseDeclared"] == "NOASSERTION"  # "BSD License" does not say which BSD
    assert packages["com.h2database:h2"]["externalRefs"][0]["referenceLocator"] == "pkg:maven/com.h2database/h2@2.2.224"
    # The kernel is generated from its locked source package, which is listed (with no files).
    kernel = next(p for p in document["packages"] if p["name"] == "linux")
    source = packages["linux-source-6.1"]
    assert source["filesAnalyzed"] is False
    assert {"spdxElementId": kernel["SPDXID"], "relationshipType": "GENERATED_FROM", "relatedSpdxElement": source["SPDXID"]} in document["relationships"]
    assert "8" * 64 in kernel["sourceInfo"]


def test_the_document_is_deterministic(spec):
    first = json.dumps(spdx.build(spec)[0], sort_keys=True)
    assert json.dumps(spdx.build(spec)[0], sort_keys=True) == first
    document = json.loads(first)
    assert document["creationInfo"]["created"] == "1970-01-01T00:00:00Z"
    assert document["documentNamespace"].startswith("urn:uuid:")
    ids = [p["SPDXID"] for p in document["packages"]] + [f["SPDXID"] for f in document["files"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    "synopsis, expression",
    [
        ("GPL-2+", "GPL-2.0-or-later"),
        ("BSD-3-clause and Expat", "(BSD-3-Clause AND MIT)"),
        ("GPL-3+ with GCC-exception", "GPL-3.0-or-later WITH GCC-exception-3.1"),
        ("public-domain", "LicenseRef-public-domain"),
    ],
)
def test_debian_licence_names_become_spdx(synopsis, expression):
    assert spdx.Licenses().debian_expression(synopsis, {}, "a copyright file") == expression


def test_python_licences():
    assert spdx.python_license({"license-expression": ["MIT OR Apache-2.0"]}) == "MIT OR Apache-2.0"
    assert spdx.python_license({"license": ["BSD-3-Clause"]}) == "BSD-3-Clause"
    assert spdx.python_license({"license": ["BSD"], "classifier": ["License :: OSI Approved :: MIT License"]}) == "MIT"
    assert spdx.python_license({}) == "NOASSERTION"


def test_a_copyright_file_that_is_not_machine_readable(tmp_path):
    path = tmp_path / "copyright"
    path.write_text("This package was debianized by someone.\n\nIt is under the GPL.\n")
    declared, comment = spdx.Licenses().debian_package(str(path), "foo")
    assert declared == "NOASSERTION" and "/usr/share/doc/foo/copyright is not machine-readable" in comment
