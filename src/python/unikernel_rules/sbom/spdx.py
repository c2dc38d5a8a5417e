"""Write an image's SBOM: an SPDX 2.3 JSON document of every file of the image, its SHA-1 and
SHA-256, and its origin (a Debian package, a PyPI distribution, a Maven jar, the kernel, the
init, the app's own sources, or the build itself). Runs in a sandbox on the locked Python with
python-debian (for Debian's machine-readable copyright files): `python3 spdx.py spec.json`.

SPEC keys (paths relative to the sandbox):
  root:        the image's root tree (guest paths)
  extra:       [{"path", "file", "origin"}]: files of the guest outside `root` (/init, /init.conf)
  bundle:      [{"name", "file", "origin"}]: the bundle's own files (kernel, initrd, ...)
  debian:      [{"name", "version", "architecture", "sha256", "files": {path: sha256},
                 "copyright": file or null}]: the packages files may come from
  derived:     {guest path or prefix ending in "/": Debian package name it was built from}
  python:      [{"name", "version", "artifact", "sha256", "lockfile"}]
  jars:        [{"path", "coordinate", "sha256", "label"}]
  sources:     directory of the app's own source files (repository paths) or null
  built_from_sources: guest paths built from those sources
  init_sources: directory of the init's C sources
  kernel:      {"release", "version", "config_sha256", "fragments", "source": Debian package or null}
  image:       {"target", "app", "runtime"}
  out:         the document to write;   report: a JSON summary to write

Every file's origin is decided in the order sbom/api.py gives. Deterministic: no clock (the
document's date is SOURCE_DATE_EPOCH), IDs derived from names, everything sorted.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import posixpath
import re
import sys
import uuid
from typing import Dict, Iterable, List, Optional, Tuple

PYC_RE = re.compile(r"^(?P<dir>(?:.*/)?)(?:__pycache__/)?(?P<name>[^/]+?)(?:\.cpython-\d+)?(?:\.opt-\d)?\.pyc$")
NOASSERTION = "NOASSERTION"

# Debian's short licence names (DEP-5) -> SPDX identifiers. Anything else becomes a
# LicenseRef- with the copyright file's text for it.
DEBIAN_LICENSES = {
    "gpl-1": "GPL-1.0-only", "gpl-1+": "GPL-1.0-or-later", "gpl-2": "GPL-2.0-only",
    "gpl-2+": "GPL-2.0-or-later", "gpl-3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later",
    "lgpl-2": "LGPL-2.0-only", "lgpl-2+": "LGPL-2.0-or-later", "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-2.1+": "LGPL-2.1-or-later", "lgpl-3": "LGPL-3.0-only", "lgpl-3+": "LGPL-3.0-or-later",
    "agpl-3": "AGPL-3.0-only", "agpl-3+": "AGPL-3.0-or-later", "gfdl-1.2+": "GFDL-1.2-or-later",
    "gfdl-1.3+": "GFDL-1.3-or-later", "gfdl-1.3": "GFDL-1.3-only", "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause", "expat": "MIT", "mit": "MIT",
    "isc": "ISC", "zlib": "Zlib", "apache-2.0": "Apache-2.0", "apache-2": "Apache-2.0",
    "artistic": "Artistic-1.0-Perl", "artistic-2.0": "Artistic-2.0", "mpl-1.1": "MPL-1.1",
    "mpl-2.0": "MPL-2.0", "psf-2": "PSF-2.0", "python": "Python-2.0", "python-2.0": "Python-2.0",
    "cc0-1.0": "CC0-1.0", "cc0": "CC0-1.0", "bsl-1.0": "BSL-1.0", "curl": "curl", "openssl": "OpenSSL",
    "x11": "X11", "unicode-dfs-2016": "Unicode-DFS-2016", "ofl-1.1": "OFL-1.1", "bzip2-1.0.6": "bzip2-1.0.6",
    "gpl-2 with classpath exception": "GPL-2.0-only WITH Classpath-exception-2.0",
    "gpl-2 with classpath-exception": "GPL-2.0-only WITH Classpath-exception-2.0",
    "gpl-3+ with gcc-exception": "GPL-3.0-or-later WITH GCC-exception-3.1",
    "gpl-3+ with gcc-exception-3.1": "GPL-3.0-or-later WITH GCC-exception-3.1",
}
# SPDX identifiers a PyPI `License:` field or a classifier commonly names.
SPDX_IDS = {v.lower(): v for v in DEBIAN_LICENSES.values() if " " not in v}
CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: BSD License": "",  # which BSD is not said
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
}


def spdx_id(kind: str, name: str) -> str:
    return f"SPDXRef-{kind}-" + re.sub(r"[^A-Za-z0-9.-]", "-", name)


def file_id(name: str) -> str:
    return "SPDXRef-File-" + hashlib.sha1(name.encode()).hexdigest()[:24]


def hashes(path: str) -> Tuple[str, str]:
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha1.update(block)
            sha256.update(block)
    return sha1.hexdigest(), sha256.hexdigest()


def file_type(path: str, head: bytes) -> str:
    if head.startswith(b"\x7fELF") or path.endswith(".pyc"):
        return "BINARY"
    if path.endswith((".jar", ".zip", ".whl", ".jmod", ".gz")):
        return "ARCHIVE"
    if path.endswith((".py", ".c", ".h", ".java")):
        return "SOURCE"
    return "OTHER"


def regular_files(root: str) -> List[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full) and not os.path.islink(full):
                found.append(os.path.relpath(full, root))
    return sorted(found)


# -- licences ---------------------------------------------------------------------------------


class Licenses:
    """License expressions, and the LicenseRef- texts they need (`hasExtractedLicensingInfos`)."""

    def __init__(self) -> None:
        self.extracted: Dict[str, dict] = {}

    def ref(self, name: str, text: str, origin: str) -> str:
        ref = "LicenseRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", name).strip("-")
        if ref not in self.extracted:
            self.extracted[ref] = {
                "licenseId": ref,
                "name": name,
                "extractedText": text.strip() or f"The licence named {name!r} in {origin}.",
            }
        return ref

    def debian_expression(self, synopsis: str, texts: Dict[str, str], origin: str) -> str:
        """A DEP-5 `License:` synopsis ("GPL-2+ or Artistic", "BSD-3-clause and Expat") in SPDX."""
        alternatives = []
        for alternative in re.split(r"\s+or\s+", synopsis.strip(), flags=re.I):
            parts = [p.strip() for p in re.split(r"\s+and\s+|,\s*", alternative, flags=re.I) if p.strip()]
            ids = [DEBIAN_LICENSES.get(p.lower()) or self.ref(p, texts.get(p.lower(), ""), origin) for p in parts]
            alternatives.append(" AND ".join(ids) if len(ids) == 1 else "(" + " AND ".join(ids) + ")")
        return " OR ".join(alternatives) if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"

    def debian_package(self, copyright_file: Optional[str], package: str) -> Tuple[str, str]:
        """(licenseDeclared, a comment) from a package's copyright file."""
        if not copyright_file:
            return NOASSERTION, "The package has no copyright file."
        from debian.copyright import Copyright  # python-debian

        origin = f"/usr/share/doc/{package}/copyright"
        try:
            with open(copyright_file, encoding="utf-8", errors="replace") as f:
                parsed = Copyright(f, strict=False)
        except Exception as e:  # NotMachineReadableError, or a malformed DEP-5 file: no licence
            return NOASSERTION, f"{origin} is not machine-readable (DEP-5): {str(e)[:200]}"
        texts = {
            p.license.synopsis.lower(): p.license.text
            for p in parsed.all_license_paragraphs()
            if p.license and p.license.synopsis and p.license.text
        }
        for p in parsed.all_files_paragraphs():
            if p.license and p.license.synopsis and p.license.text:
                texts.setdefault(p.license.synopsis.lower(), p.license.text)
        synopses = sorted({p.license.synopsis.strip() for p in parsed.all_files_paragraphs() if p.license and p.license.synopsis})
        if not synopses:
            return NOASSERTION, f"{origin} names no licence."
        expressions = [self.debian_expression(s, texts, origin) for s in synopses]
        if len(expressions) == 1:
            return expressions[0], f"From {origin} (every Files paragraph)."
        return " AND ".join(e if " " not in e or e.startswith("(") else f"({e})" for e in expressions), f"From {origin} (every Files paragraph)."


def python_license(metadata: Dict[str, List[str]]) -> str:
    for expression in metadata.get("license-expression", []):
        return expression.strip()
    for value in metadata.get("license", []):
        if value.strip().lower() in SPDX_IDS:
            return SPDX_IDS[value.strip().lower()]
    found = sorted({CLASSIFIERS[c] for c in metadata.get("classifier", []) if CLASSIFIERS.get(c)})
    return " AND ".join(found) if found else NOASSERTION


def read_metadata(path: str) -> Dict[str, List[str]]:
    fields: Dict[str, List[str]] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                break  # the body (description) starts
            if line[0] in " \t" or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields.setdefault(key.strip().lower(), []).append(value.strip())
    return fields


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# -- origins ----------------------------------------------------------------------------------


def python_claims(root: str, paths: Iterable[str]) -> Dict[str, Tuple[str, str, str]]:
    """guest path -> (canonical dist name, version, how) from every `*.dist-info/RECORD`."""
    claims: Dict[str, Tuple[str, str, str]] = {}
    for record in (p for p in paths if p.endswith(".dist-info/RECORD")):
        info_dir = posixpath.dirname(record)
        site = posixpath.dirname(info_dir)
        meta = read_metadata(os.path.join(root, info_dir, "METADATA")) if os.path.exists(os.path.join(root, info_dir, "METADATA")) else {}
        name = canonical((meta.get("name") or [posixpath.basename(info_dir).split("-")[0]])[0])
        version = (meta.get("version") or [""])[0]
        with open(os.path.join(root, record), encoding="utf-8", errors="replace") as f:
            for line in f:
                listed = line.rsplit(",", 2)[0].strip().strip('"')
                if listed:
                    claims[posixpath.normpath(posixpath.join(site, listed))] = (name, version, "RECORD")
        for p in paths:
            if p.startswith(info_dir + "/"):
                claims.setdefault(p, (name, version, "RECORD"))
    return claims


def source_of_pyc(path: str) -> Optional[str]:
    m = PYC_RE.match(path)
    return f"{m.group('dir').replace('__pycache__/', '')}{m.group('name')}.py" if m else None


class Origins:
    """What decides a root file's origin, prepared once for all the files."""

    def __init__(
        self,
        spec: dict,
        debian_files: Dict[str, List[Tuple[str, str]]],
        python: Dict[str, Tuple[str, str, str]],
        sources: Dict[str, str],
    ) -> None:
        self.jars = {j["path"]: j for j in spec.get("jars", [])}
        self.built = set(spec.get("built_from_sources", []))
        # Longest prefix first: the most specific generated directory wins.
        self.derived = sorted(spec.get("derived", {}).items(), key=lambda kv: -len(kv[0]))
        self.debian_files = debian_files
        self.python = python
        self.sources = sources
        self.app_paths: set = set()  # the app's files so far (a .pyc follows its .py)

    def of(self, path: str, sha256: str) -> Tuple[str, str, str]:
        """(kind, name, comment) of a root-tree file: kind is jar|app|pypi|debian|build."""
        kind, name, comment = self._of(path, sha256)
        if kind == "app":
            self.app_paths.add(path)
        return kind, name, comment

    def _of(self, path: str, sha256: str) -> Tuple[str, str, str]:
        if path in self.jars:
            return "jar", path, f"The jar of {self.jars[path]['label']}."
        if path in self.built:
            return "app", "", "Built from the app's sources."
        pyc_source = source_of_pyc(path)
        python, debian_files = self.python, self.debian_files
        if path in python:
            return "pypi", python[path][0], "Installed from the distribution (its RECORD lists it)."
        if pyc_source and pyc_source in python:
            return "pypi", python[pyc_source][0], f"Compiled at build from /{pyc_source} of the distribution."
        for package, packaged_sha256 in debian_files.get(path, []):
            if packaged_sha256 == sha256:
                return "debian", package, "Copied from the package."
        if path in debian_files:
            return "debian", debian_files[path][0][0], "Changed at build (e.g. stripped) from the package's file at this path."
        if pyc_source and pyc_source in debian_files:
            return "debian", debian_files[pyc_source][0][0], f"Compiled at build from /{pyc_source} of the package."
        for prefix, package in self.derived:
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return "debian", package, "Generated at build from the package (not a file it ships)."
        if sha256 in self.sources:
            return "app", "", f"The app's source {self.sources[sha256]}."
        if pyc_source and pyc_source in self.app_paths:
            return "app", "", f"Compiled at build from /{pyc_source} (the app's source)."
        return "build", "", "Written by the build (from the image's fields, or the runtime's set-up)."


# -- the document -----------------------------------------------------------------------------


def verification_code(sha1s: Iterable[str]) -> dict:
    return {"packageVerificationCodeValue": hashlib.sha1("".join(sorted(sha1s)).encode()).hexdigest()}


def debian_purl(p: dict) -> str:
    from urllib.parse import quote

    return f"pkg:deb/debian/{p['name']}@{quote(p['version'], safe='')}?arch={p['architecture']}"


def build(spec: dict) -> Tuple[dict, dict]:
    root = spec["root"]
    licenses = Licenses()
    paths = regular_files(root)
    debian_files: Dict[str, List[Tuple[str, str]]] = {}
    debian = {p["name"]: p for p in spec.get("debian", [])}
    for name in sorted(debian):
        for path, sha256 in debian[name]["files"].items():
            debian_files.setdefault(path, []).append((name, sha256))
    python = python_claims(root, paths)
    sources: Dict[str, str] = {}
    source_files = regular_files(spec["sources"]) if spec.get("sources") else []
    for s in source_files:
        sources.setdefault(hashes(os.path.join(spec["sources"], s))[1], s)

    files: List[dict] = []
    members: Dict[str, List[Tuple[str, str]]] = {}  # package SPDX ID -> [(file ID, sha1)]
    relationships: List[Tuple[str, str, str]] = []
    counts: Dict[str, int] = {}
    app_id, image_id, build_id = "SPDXRef-App", "SPDXRef-Image", "SPDXRef-Build"
    jar_ids = {j["path"]: spdx_id("Package-maven" if j["coordinate"] else "Package-jar", j["coordinate"] or j["path"]) for j in spec.get("jars", [])}
    origins = Origins(spec, debian_files, python, sources)

    def add_file(name: str, full: str, package_id: str, comment: str, digests: Optional[Tuple[str, str]] = None) -> str:
        sha1, sha256 = digests or hashes(full)
        with open(full, "rb") as f:
            head = f.read(4)
        fid = file_id(name)
        files.append(file_entry(fid, name, sha1, sha256, file_type(name, head), comment))
        if package_id:
            members.setdefault(package_id, []).append((fid, sha1))
        return fid

    pypi_ids = {canonical(d["name"]): spdx_id("Package-pypi", canonical(d["name"])) for d in spec.get("python", [])}
    # Compiled files last: a .pyc follows the origin of its .py (an app's module included).
    for path in sorted(paths, key=lambda p: (p.endswith(".pyc"), p)):
        full = os.path.join(root, path)
        digests = hashes(full)
        kind, name, comment = origins.of(path, digests[1])
        counts[kind] = counts.get(kind, 0) + 1
        package_id = {
            "jar": jar_ids.get(path, ""),
            "app": app_id,
            "pypi": pypi_ids.get(name) or spdx_id("Package-pypi", name),
            "debian": spdx_id("Package-deb", name),
            "build": build_id,
        }[kind]
        if kind == "pypi" and name not in pypi_ids:
            pypi_ids[name] = package_id  # installed but not in the lock (e.g. a local dist)
        fid = add_file("./" + path, full, package_id, comment, digests)
        if path in origins.built:
            relationships.extend((fid, "GENERATED_FROM", file_id("source:" + s)) for s in source_files)
    for extra in spec.get("extra", []):
        package_id = {"init": "SPDXRef-Init", "build": build_id}[extra["origin"]]
        fid = add_file("./" + extra["path"], extra["file"], package_id, "Part of the initramfs.")
        counts[extra["origin"]] = counts.get(extra["origin"], 0) + 1
        if extra["origin"] == "init":
            init_sources = regular_files(spec["init_sources"])
            for s in init_sources:
                sid = add_source(files, f"./unikernel_rules/init/{s}", os.path.join(spec["init_sources"], s))
                relationships.append((fid, "GENERATED_FROM", sid))
    for s in source_files:
        add_source(files, "./" + s, os.path.join(spec["sources"], s), file_id("source:" + s))
    for b in spec.get("bundle", []):
        package_id = {"kernel": "SPDXRef-Kernel", "image": image_id}[b["origin"]]
        add_file("./" + b["name"], b["file"], package_id, "A file of the image's bundle directory.")

    packages: List[dict] = []

    def add_package(package_id: str, entry: dict) -> None:
        contained = members.get(package_id, [])
        entry = {"SPDXID": package_id, "downloadLocation": NOASSERTION, **entry}
        entry["filesAnalyzed"] = bool(contained)
        if contained:
            entry["packageVerificationCode"] = verification_code(sha1 for _, sha1 in contained)
            relationships.extend((package_id, "CONTAINS", fid) for fid, _ in contained)
        packages.append(entry)
        if package_id != image_id:
            relationships.append((image_id, "CONTAINS", package_id))

    image = spec["image"]
    add_package(image_id, {"name": image["target"], "primaryPackagePurpose": "OPERATING-SYSTEM", "comment": f"The unikernel_image {image['target']} ({image['runtime']} runtime): its bundle files."})
    add_package(app_id, {"name": image["app"], "primaryPackagePurpose": "APPLICATION", "comment": "The app's own files, built from its sources (listed as SOURCE files)."})
    add_package(build_id, {"name": "generated by unikernel_rules", "comment": "Files the build writes from the image's fields (/etc, init.conf) or that a runtime's set-up makes (a venv's glue)."})
    add_package("SPDXRef-Init", {"name": "unikernel_rules init", "primaryPackagePurpose": "APPLICATION", "comment": "The guest's PID 1, built from the C sources listed as SOURCE files."})
    kernel = spec["kernel"]
    add_package(
        "SPDXRef-Kernel",
        {
            "name": "linux",
            "versionInfo": kernel["release"],
            "primaryPackagePurpose": "OPERATING-SYSTEM",
            "licenseDeclared": "GPL-2.0-only WITH Linux-syscall-note",
            "sourceInfo": f"Built from the Debian package {kernel['source']['name']} {kernel['source']['version']} with the merged configuration sha256:{kernel['config_sha256']} (fragments: {', '.join(kernel['fragments'])}).",
        },
    )
    used_debian = set(members)  # package IDs with files
    source_package = kernel.get("source")
    for name in sorted(debian):
        package_id = spdx_id("Package-deb", name)
        if package_id not in used_debian and not (source_package and source_package["name"] == name):
            continue
        p = debian[name]
        declared, comment = licenses.debian_package(p.get("copyright"), name)
        add_package(
            package_id,
            {
                "name": name,
                "versionInfo": p["version"],
                "supplier": "Organization: Debian",
                "checksums": [{"algorithm": "SHA256", "checksumValue": p["sha256"]}],
                "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": debian_purl(p)}],
                "licenseDeclared": declared,
                "comment": f"The Debian package's .deb sha256 is the lock's. Licence: {comment}",
            },
        )
    if source_package:
        relationships.append(("SPDXRef-Kernel", "GENERATED_FROM", spdx_id("Package-deb", source_package["name"])))
    locked = {canonical(d["name"]): d for d in spec.get("python", [])}
    installed_meta: Dict[str, Dict[str, List[str]]] = {}
    for p in paths:
        if p.endswith(".dist-info/METADATA"):
            meta = read_metadata(os.path.join(root, p))
            installed_meta[canonical((meta.get("name") or [""])[0])] = meta
    for name in sorted(pypi_ids):
        d = locked.get(name, {"name": name, "version": (installed_meta.get(name, {}).get("version") or [""])[0], "sha256": "", "artifact": "", "lockfile": ""})
        entry = {
            "name": d["name"],
            "versionInfo": d["version"],
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": f"pkg:pypi/{name}@{d['version']}"}],
            "licenseDeclared": python_license(installed_meta.get(name, {})),
            "comment": f"Installed from {d['artifact']}, as {d['lockfile']} locks it." if d["artifact"] else "Installed, but not found in the app's lockfile.",
        }
        if d["sha256"]:
            entry["checksums"] = [{"algorithm": "SHA256", "checksumValue": d["sha256"]}]
        add_package(pypi_ids[name], entry)
    for j in spec.get("jars", []):
        entry = {"name": j["coordinate"] or posixpath.basename(j["path"]), "primaryPackagePurpose": "LIBRARY", "checksums": [{"algorithm": "SHA256", "checksumValue": j["sha256"]}], "comment": f"The jar of {j['label']}."}
        if j["coordinate"]:
            group, artifact, version = j["coordinate"].split(":")[:3]
            entry.update(name=f"{group}:{artifact}", versionInfo=version, externalRefs=[{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": f"pkg:maven/{group}/{artifact}@{version}"}])
        add_package(jar_ids[j["path"]], entry)

    digest = hashlib.sha256(json.dumps([files, packages], sort_keys=True).encode()).hexdigest()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": image["target"],
        "documentNamespace": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, image['target'] + '#' + digest)}",
        "creationInfo": {
            "created": datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": ["Tool: unikernel_rules"],
            "comment": "Reproducible: the date is SOURCE_DATE_EPOCH's; the namespace is derived from the content.",
        },
        "packages": sorted(packages, key=lambda p: p["SPDXID"]),
        "files": sorted(files, key=lambda f: (f["fileName"], f["SPDXID"])),
        "relationships": [
            {"spdxElementId": a, "relationshipType": t, "relatedSpdxElement": b}
            for a, t, b in sorted(set([("SPDXRef-DOCUMENT", "DESCRIBES", image_id), *relationships]))
        ],
    }
    if licenses.extracted:
        document["hasExtractedLicensingInfos"] = [licenses.extracted[k] for k in sorted(licenses.extracted)]
    report = {"files": len(files), "packages": len(packages), "origins": dict(sorted(counts.items()))}
    return document, report


def add_source(files: List[dict], name: str, full: str, fid: Optional[str] = None) -> str:
    sha1, sha256 = hashes(full)
    fid = fid or file_id(name)
    comment = "A source file (of the repository, or of unikernel_rules for the init): not in the image."
    files.append(file_entry(fid, name, sha1, sha256, "SOURCE", comment))
    return fid


def file_entry(fid: str, name: str, sha1: str, sha256: str, kind: str, comment: str) -> dict:
    return {
        "SPDXID": fid,
        "fileName": name,
        "checksums": [{"algorithm": "SHA1", "checksumValue": sha1}, {"algorithm": "SHA256", "checksumValue": sha256}],
        "fileTypes": [kind],
        "comment": comment,
    }


def main(argv: List[str]) -> int:
    with open(argv[1]) as f:
        spec = json.load(f)
    document, report = build(spec)
    for path, data in ((spec["out"], document), (spec["report"], report)):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            json.dump(data, f, indent=1 if path == spec["out"] else None, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
