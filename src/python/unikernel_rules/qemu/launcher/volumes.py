"""Persistent volumes: one raw ext4 disk file per volume of the manifest, kept between runs.

`manifest.json` lists them as `"volumes": [{"path": "/var/lib/app", "size_mib": 256,
"serial": "vol0", "fstype": "ext4", "uid": 1000, "gid": 1000}]`. Each is the file
`<volumes_dir>/<serial>.img`: created sparse of `size_mib` and formatted on first use
(mke2fs from Debian's e2fsprogs, shipped by `pants run`), then attached writable with
`serial=<serial>`; the guest's init finds it by /sys/block/vd*/serial and mounts it at `path`.
Volumes live outside the bundle: they never enter a build's outputs or cache keys.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any, Dict, List

from .options import Bundle, LaunchError, LaunchOptions, run_command

_SERIAL_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")  # virtio-blk serials are at most 20 bytes


def manifest_volumes(bundle: Bundle) -> List[Dict[str, Any]]:
    """The manifest's volumes, checked (a damaged manifest is a LaunchError)."""
    volumes = bundle.manifest.get("volumes") or []
    if not isinstance(volumes, list):
        raise LaunchError(f"the manifest of {bundle.target} has a `volumes` that is not a list")
    seen = set()
    for vol in volumes:
        serial = vol.get("serial") if isinstance(vol, dict) else None
        if not isinstance(serial, str) or not _SERIAL_RE.match(serial) or serial in seen:
            raise LaunchError(
                f"the manifest of {bundle.target} has a bad volume {vol!r}: each needs a unique "
                "`serial` of 1-20 letters, digits, `-` or `_`; rebuild it with `pants package`"
            )
        if not isinstance(vol.get("size_mib"), int) or vol["size_mib"] < 1:
            raise LaunchError(f"the manifest of {bundle.target} has a volume without a positive `size_mib`: {vol!r}")
        fstype = vol.get("fstype", "ext4")
        if fstype != "ext4":
            raise LaunchError(f"the volume {serial} of {bundle.target} has the fstype {fstype!r}; only ext4 is supported")
        seen.add(serial)
    return volumes


def volume_path(bundle: Bundle, options: LaunchOptions, vol: Dict[str, Any]) -> str:
    if not options.volumes_dir:
        raise LaunchError(
            f"{bundle.target} has volumes ({', '.join(v['path'] for v in manifest_volumes(bundle))}) "
            "but no directory to keep them in was given: pass --volumes-dir DIR (`pants run` "
            "passes `[unikernel-run].state_dir`)"
        )
    return os.path.join(options.volumes_dir, f"{vol['serial']}.img")


def prepare_volumes(bundle: Bundle, options: LaunchOptions) -> List[str]:
    """Wipe (if asked), then create and format each missing volume file; returns what was done,
    as lines for --verbose."""
    volumes = manifest_volumes(bundle)
    done: List[str] = []
    if not volumes:
        return done
    if options.wipe_volumes:
        for vol in volumes:
            path = volume_path(bundle, options, vol)
            if os.path.exists(path):
                os.unlink(path)
                done.append(f"wiped the volume {vol['path']} ({path})")
    for vol in volumes:
        path = volume_path(bundle, options, vol)
        if os.path.exists(path):
            size = os.path.getsize(path)
            want = int(vol["size_mib"]) << 20
            if size < want:  # the image asks for more room now: grow the file (ext4 keeps its size)
                done.append(f"the volume {vol['path']} ({path}) is {size >> 20} MiB, the image asks for "
                            f"{vol['size_mib']} MiB: wipe it to get the new size "
                            f"(`{run_command(bundle, options, '--unikernel-run-wipe-volumes')}`)")
            continue
        create_volume(bundle, options, vol, path)
        done.append(f"created the volume {vol['path']}: {path} ({vol['size_mib']} MiB, ext4)")
    return done


def mke2fs_argv(options: LaunchOptions, vol: Dict[str, Any], path: str) -> List[str]:
    owner = f"{int(vol.get('uid', 0))}:{int(vol.get('gid', 0))}"
    return [
        *(options.mke2fs or ["mke2fs"]),
        "-t", "ext4", "-F", "-q",
        "-E", f"root_owner={owner}",
        "-L", str(vol["serial"]),
        path,
    ]


def create_volume(bundle: Bundle, options: LaunchOptions, vol: Dict[str, Any], path: str) -> None:
    """A sparse file of size_mib, formatted ext4; removed again if formatting fails."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".new"
        with open(tmp, "wb") as f:
            f.truncate(int(vol["size_mib"]) << 20)
    except OSError as e:
        raise LaunchError(f"cannot create the volume file {path!r} for {vol['path']} of {bundle.target}: {e}") from e
    argv = mke2fs_argv(options, vol, tmp)
    env = dict(os.environ)
    if options.mke2fs_config:
        # The locked tree's defaults, not the host's /etc/mke2fs.conf.
        env["MKE2FS_CONFIG"] = options.mke2fs_config
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=env)
    except OSError as e:
        os.unlink(tmp)
        raise LaunchError(f"cannot run mke2fs ({argv[0]}) to format the volume {vol['path']}: {e}") from e
    if proc.returncode != 0:
        os.unlink(tmp)
        out = proc.stdout.decode("utf-8", "replace").strip()
        raise LaunchError(f"mke2fs failed (status {proc.returncode}) formatting the volume {vol['path']} "
                          f"of {bundle.target}: {out}")
    os.replace(tmp, path)
