"""Convert a raw disk (mkdisk.py's disk.raw) into one other format, reproducibly.

Runs inside a Pants Process on the build scripts' Python (debian/tool_python.py), stdlib only;
qemu-img comes from the Debian lock (qemu-utils) and runs through the tree's loader. Usage:
`mkformat.py SPEC.json`; see formats/convert.py for the spec.

- qcow2: `qemu-img convert -O qcow2`: reproducible as it is.
- vmdk: `qemu-img convert -O vmdk -o subformat=streamOptimized`; qemu-img writes a random
  content ID (`CID=`) into the descriptor: replaced by one derived from the raw disk.
- vhd: `qemu-img convert -O vpc -o subformat=fixed,force_size=on` (the size stays the raw
  disk's, a multiple of 1 MiB, as Azure requires); the footer's timestamp (bytes 24-27) and
  UUID (68-83) vary: pinned (timestamp 0, UUID from the spec), then its checksum (64-67)
  recomputed as the VHD specification defines it.
- gce: `disk.raw` in an old-GNU-format tar (mtime 0, uid/gid 0, mode 0644), gzip'd with mtime 0
  and no file name; the member is a sparse file (GNU tar's `-S`) whose size is padded to a
  multiple of 1 GiB (Compute Engine imports only disks of whole GBs): the padding is a hole, not
  a GiB of zeros to compress.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
import uuid

GIB = 1024 * 1024 * 1024
CHUNK = 4 * 1024 * 1024
VHD_FOOTER = 512
VHD_COOKIE = b"conectix"


class FormatError(Exception):
    pass


def qemu_img(spec, *args):
    argv = [*spec["loader"], os.path.join(spec["tree"], "usr/bin/qemu-img"), *args]
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise FormatError(
            f"qemu-img {args[0]} failed (exit code {result.returncode}): "
            + result.stdout.decode(errors="replace").strip()
        )


def pin_vmdk_cid(path, cid):
    """Replace the descriptor's CID by `cid` (8 hex digits). qemu-img writes its random CID with
    `%x`, so 1 to 8 digits (fewer than 8 in 1 of 16 builds), and then a shorter descriptor can
    leave a stray byte after its NUL. The descriptor is NUL-padded text in sectors of its own
    (the header's descriptorOffset and descriptorSize): it is written back with the 8-digit CID
    and zeros to the end of those sectors, as qemu-img leaves it for an 8-digit CID."""
    with open(path, "r+b") as f:
        head = f.read(64 * 1024)  # the descriptor sits right after the 512-byte header
        desc_offset, desc_size = struct.unpack_from("<QQ", head, 28)
        region_end = min((desc_offset + desc_size) * 512, len(head))
        m = re.search(rb"\nCID=([0-9a-f]{1,8})\n", head[:region_end])
        if not m:
            raise FormatError("no CID= line in the VMDK descriptor written by qemu-img")
        end = head.find(b"\0", m.end(), region_end)
        text = cid.encode() + head[m.end(1) : end if end >= 0 else region_end]
        if end < 0 or m.start(1) + len(text) >= region_end:
            raise FormatError("no room in the VMDK descriptor's sectors for an 8-digit CID")
        f.seek(m.start(1))
        f.write(text + bytes(region_end - m.start(1) - len(text)))


def vhd_checksum(footer):
    """The VHD footer checksum: ones' complement of the sum of its bytes, checksum excluded."""
    total = sum(footer[:64]) + sum(footer[68:])
    return (~total) & 0xFFFFFFFF


def pin_vhd_footer(path, disk_uuid):
    with open(path, "r+b") as f:
        f.seek(-VHD_FOOTER, os.SEEK_END)
        footer = bytearray(f.read(VHD_FOOTER))
        if footer[:8] != VHD_COOKIE:
            raise FormatError("the VHD written by qemu-img has no footer cookie 'conectix'")
        footer[24:28] = b"\0\0\0\0"  # seconds since 2000-01-01: pinned to 0
        footer[68:84] = uuid.UUID(disk_uuid).bytes
        footer[64:68] = struct.pack(">I", vhd_checksum(footer))
        f.seek(-VHD_FOOTER, os.SEEK_END)
        f.write(footer)


def _octal(value, width):
    """A tar header number: zero-padded octal digits and a NUL."""
    digits = f"{value:o}"
    if len(digits) > width - 1:
        raise FormatError(f"{value} does not fit a {width}-byte tar header field")
    return digits.rjust(width - 1, "0").encode() + b"\0"


def gnu_sparse_header(member, data_bytes, real_bytes):
    """An old-GNU sparse member header ('S'): `data_bytes` of data from offset 0, then a hole up
    to `real_bytes` (GNU tar's `--format=oldgnu -S`, which Compute Engine's import reads).
    mtime 0, uid/gid 0, mode 0644, no user or group names."""
    header = bytearray(512)
    name = member.encode()
    header[0 : len(name)] = name
    header[100:108] = _octal(0o644, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    header[124:136] = _octal(data_bytes, 12)  # bytes stored in the archive
    header[136:148] = _octal(0, 12)  # mtime
    header[156:157] = b"S"
    header[257:265] = b"ustar  \0"  # old GNU magic + version
    # The sparse map: the data, then an empty extent at the end that gives the file its size.
    header[386:398] = _octal(0, 12)
    header[398:410] = _octal(data_bytes, 12)
    header[410:422] = _octal(real_bytes, 12)
    header[422:434] = _octal(0, 12)
    header[482:483] = b"\0"  # no extension headers
    header[483:495] = _octal(real_bytes, 12)  # the file's real size
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}".encode() + b"\0 "
    return bytes(header)


def write_gce(raw, out, member):
    """`member` in a gzip'd old-GNU tar, as a sparse file padded to whole GiB: the raw disk's
    bytes are stored once and the padding is a hole (no GiB of zeros to compress)."""
    size = os.path.getsize(raw)
    padded = (size + GIB - 1) // GIB * GIB
    with open(out, "wb") as raw_out:
        # filename="" and mtime=0: the gzip header holds neither a name nor a time.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw_out, mtime=0, compresslevel=6) as gz:
            gz.write(gnu_sparse_header(member, size, padded))
            with open(raw, "rb") as f:
                while True:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    gz.write(chunk)
            # Pad the data to a 512-byte block, two zero blocks end the archive, and the whole
            # to tar's 10 KiB record size (what GNU tar and Python's tarfile write).
            written = 512 + (size + 511) // 512 * 512 + 1024
            gz.write(bytes((size + 511) // 512 * 512 - size + 1024))
            gz.write(bytes((-written) % tarfile.RECORDSIZE))


def convert(spec):
    raw, out, fmt = spec["raw"], spec["output"], spec["format"]
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    if fmt == "qcow2":
        qemu_img(spec, "convert", "-f", "raw", "-O", "qcow2", raw, out)
    elif fmt == "vmdk":
        qemu_img(spec, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, out)
        pin_vmdk_cid(out, spec["vmdk_cid"])
    elif fmt == "vhd":
        qemu_img(spec, "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed,force_size=on", raw, out)
        pin_vhd_footer(out, spec["vhd_uuid"])
    elif fmt == "gce":
        write_gce(raw, out, spec["member"])
    else:
        raise FormatError(f"unknown format {fmt!r}")


def main(argv):
    with open(argv[1]) as f:
        spec = json.load(f)
    try:
        convert(spec)
    except FormatError as e:
        print(f"UNIKERNEL_FORMAT_ERROR {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
