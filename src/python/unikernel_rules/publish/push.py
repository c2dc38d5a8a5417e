#!/usr/bin/env python3
"""Push one OCI layout or archive to a registry with skopeo: one `pants publish` job.

    push.py --skopeo PATH --src oci:DIR:REF --dest HOST[:PORT]/REPO:TAG --registry NAME [--insecure]

skopeo uploads only the blobs the registry lacks (it asks for each first) and the manifest
last, so an interrupted push tags nothing and a rerun completes it; it keeps every digest. A
failure is one paragraph naming the registry and its address and what to do (unreachable,
authentication refused, access denied), with skopeo's own last line. Standard library only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import List, Optional, Sequence

UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "network is unreachable", "no route to host",
               "server gave http response to https client", "connection reset")
AUTH = ("unauthorized", "authentication required", "incorrect username or password", "401")
DENIED = ("denied", "403", "forbidden")


def explain(output: str, registry: str, address: str, dest: str) -> str:
    """One paragraph for skopeo's failure `output`."""
    text = output.lower()
    last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
    if any(k in text for k in UNREACHABLE):
        what = (
            f"cannot reach the registry {registry} at {address}: nothing was published there. Is it "
            "running, and is the address right (`registries` field, or `[unikernel-publish].registries`)?"
        )
        if "http response to https" in text:
            what += " It speaks plain HTTP: set `insecure` on its alias."
    elif any(k in text for k in AUTH):
        what = (
            f"the registry {registry} at {address} refused the credentials (authentication required or "
            f"wrong): log in first (`skopeo login {address}` or `docker login {address}`; skopeo reads "
            "$REGISTRY_AUTH_FILE, ~/.config/containers/auth.json and ~/.docker/config.json)."
        )
    elif any(k in text for k in DENIED):
        what = f"the registry {registry} at {address} denied pushing {dest}: check the account's rights to that repository."
    else:
        what = f"pushing {dest} to the registry {registry} at {address} failed."
    return f"unikernel: {what} (skopeo: {last})"


def skopeo_argv(skopeo: str, src: str, dest: str, insecure: bool, digestfile: Optional[str]) -> List[str]:
    argv = [skopeo, "copy", "--retry-times", "1"]
    if insecure:
        argv.append("--dest-tls-verify=false")
    if digestfile:
        argv += ["--digestfile", digestfile]
    return [*argv, src, f"docker://{dest}"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="push")
    p.add_argument("--skopeo", required=True)
    p.add_argument("--src", required=True, help="oci:DIR:REF or oci-archive:FILE")
    p.add_argument("--dest", required=True, help="HOST[:PORT]/REPO:TAG")
    p.add_argument("--registry", required=True, help="how the image names the registry (@alias or address)")
    p.add_argument("--insecure", action="store_true")
    ns = p.parse_args(argv)
    address = ns.dest.split("/", 1)[0]
    digestfile = "pushed.digest"
    proc = subprocess.run(
        skopeo_argv(ns.skopeo, ns.src, ns.dest, ns.insecure, digestfile),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
    )
    if proc.returncode != 0:
        print(explain(proc.stdout, ns.registry, address, ns.dest), file=sys.stderr, flush=True)
        return 1
    sys.stdout.write("".join(line + "\n" for line in proc.stdout.splitlines() if line.startswith(("Copying", "Writing"))))
    with open(digestfile) as f:
        print(f"pushed {ns.dest}@{f.read().strip()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
