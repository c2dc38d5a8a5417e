"""Store the kernel and initramfs once on the EFI system partition: FAT "hard links" into the UKI.

The ESP needs the kernel and initramfs twice: inside the Unified Kernel Image (UEFI) and as files
for syslinux (BIOS). FAT has no hard links, but a directory entry is only a first cluster and a
size: when the UKI is stored contiguously and its `.linux` and `.initrd` sections start on cluster
boundaries (the stub's PE FileAlignment is 512 bytes: clusters of one 512-byte sector), the files
`kernel` and `initrd` can point into the UKI's own clusters. `.initrd` is the UKI's last section,
so its cluster chain ends with the UKI's; `kernel`'s chain runs on through `.initrd`, which a
reader never gets to: it stops at the entry's size. fsck.fat reports such files as cross-linked;
firmware, syslinux and Linux read them as ordinary files. The ESP is read-only at run time.

`link_into(esp, uki, links)` rewrites placeholder entries (written by mtools, so that mtools
chose their directory slots and long names) to point into the UKI and frees their own clusters.
Stdlib only: runs on the build scripts' Python inside the disk build (mkdisk.py).
"""

from __future__ import annotations

import struct
from typing import Dict, List, Tuple

FREE = 0


class FatError(Exception):
    pass


def pe_sections(data: bytes) -> Dict[str, Tuple[int, int, int]]:
    """name -> (PointerToRawData, SizeOfRawData, VirtualSize) of a PE file's sections."""
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    if data[pe : pe + 4] != b"PE\0\0":
        raise FatError("not a PE file")
    count, = struct.unpack_from("<H", data, pe + 6)
    opt_size, = struct.unpack_from("<H", data, pe + 20)
    table = pe + 24 + opt_size
    sections = {}
    for i in range(count):
        raw = data[table + 40 * i : table + 40 * (i + 1)]
        name = raw[:8].rstrip(b"\0").decode("ascii", "replace")
        virtual_size, _, raw_size, raw_ptr = struct.unpack_from("<IIII", raw, 8)
        sections[name] = (raw_ptr, raw_size, virtual_size)
    return sections


class Fat:
    """A FAT16 or FAT32 file system image in memory (enough to relink files)."""

    def __init__(self, image: bytearray) -> None:
        self.image = image
        bps, self.spc, reserved, self.nfats, root_entries, total16 = struct.unpack_from("<HBHBHH", image, 11)
        fat16_size, = struct.unpack_from("<H", image, 22)
        total32, fat32_size, _, _, self.root_cluster = struct.unpack_from("<IIHHI", image, 32)
        self.bps = bps
        self.fat_sectors = fat16_size or fat32_size
        self.fat_start = reserved * bps
        root_sectors = (root_entries * 32 + bps - 1) // bps
        self.root_start = self.fat_start + self.nfats * self.fat_sectors * bps
        self.data_start = self.root_start + root_sectors * bps
        self.cluster_bytes = self.spc * bps
        clusters = ((total16 or total32) * bps - self.data_start) // self.cluster_bytes
        if clusters < 4085:
            raise FatError("FAT12 is not supported (the ESP is made FAT16 or FAT32)")
        self.fat32 = clusters >= 65525
        self.root_entries = root_entries
        self.fsinfo_sector = struct.unpack_from("<H", image, 48)[0] if self.fat32 else 0

    # -- the allocation table ------------------------------------------------------------------

    def entry(self, cluster: int) -> int:
        if self.fat32:
            return struct.unpack_from("<I", self.image, self.fat_start + 4 * cluster)[0] & 0x0FFFFFFF
        return struct.unpack_from("<H", self.image, self.fat_start + 2 * cluster)[0]

    def set_entry(self, cluster: int, value: int) -> None:
        for n in range(self.nfats):
            base = self.fat_start + n * self.fat_sectors * self.bps
            if self.fat32:
                old, = struct.unpack_from("<I", self.image, base + 4 * cluster)
                struct.pack_into("<I", self.image, base + 4 * cluster, (old & 0xF0000000) | value)
            else:
                struct.pack_into("<H", self.image, base + 2 * cluster, value)

    def end_of_chain(self, value: int) -> bool:
        return value >= (0x0FFFFFF8 if self.fat32 else 0xFFF8)

    def chain(self, first: int) -> List[int]:
        clusters = []
        c = first
        while True:
            clusters.append(c)
            nxt = self.entry(c)
            if self.end_of_chain(nxt):
                return clusters
            if nxt < 2 or len(clusters) > 1 << 24:
                raise FatError(f"broken cluster chain from {first}")
            c = nxt

    # -- directories ---------------------------------------------------------------------------

    def cluster_offset(self, cluster: int) -> int:
        return self.data_start + (cluster - 2) * self.cluster_bytes

    def dir_slots(self, first_cluster: int) -> List[int]:
        """Byte offsets of the 32-byte entries of a directory (0: the FAT16 root directory)."""
        if first_cluster == 0 and not self.fat32:
            return [self.root_start + 32 * i for i in range(self.root_entries)]
        first = first_cluster or self.root_cluster
        return [
            self.cluster_offset(c) + 32 * i for c in self.chain(first) for i in range(self.cluster_bytes // 32)
        ]

    def find(self, directory: int, name: str) -> int:
        """Offset of the short-name entry `name` in `directory`, case-insensitively (-1: none)."""
        want = short_name(name)
        for off in self.dir_slots(directory):
            first = self.image[off]
            if first == 0:  # the end of the directory
                return -1
            if first == 0xE5 or self.image[off + 11] == 0x0F:  # deleted, or a long-name piece
                continue
            if bytes(self.image[off : off + 11]) == want:
                return off
        return -1

    def lookup(self, path: str) -> int:
        """Offset of the short-name entry of `path` ("EFI/BOOT/BOOTX64.EFI")."""
        directory, off = 0, -1
        for part in [p for p in path.split("/") if p]:
            off = self.find(directory, part)
            if off < 0:
                raise FatError(f"{path}: no {part} on the ESP")
            directory = self.first_cluster(off)
        return off

    def first_cluster(self, off: int) -> int:
        hi, = struct.unpack_from("<H", self.image, off + 20)
        lo, = struct.unpack_from("<H", self.image, off + 26)
        return (hi << 16) | lo

    def size(self, off: int) -> int:
        return struct.unpack_from("<I", self.image, off + 28)[0]

    def point(self, off: int, cluster: int, size: int) -> None:
        struct.pack_into("<H", self.image, off + 20, cluster >> 16)
        struct.pack_into("<H", self.image, off + 26, cluster & 0xFFFF)
        struct.pack_into("<I", self.image, off + 28, size)


def short_name(name: str) -> bytes:
    base, _, ext = name.upper().partition(".")
    return base.ljust(8).encode("ascii") + ext.ljust(3).encode("ascii")


def link_into(esp_path: str, uki_path: str, links: Dict[str, Tuple[str, int]]) -> None:
    """Point each `links` file ("kernel" -> (".linux", its size in bytes)) of the ESP's root at
    the UKI's section of that name. The files must exist (placeholders) and the UKI must be
    stored contiguously, its sections cluster-aligned: both are checked."""
    with open(esp_path, "rb") as f:
        fat = Fat(bytearray(f.read()))
    uki_off = fat.lookup(uki_path)
    uki_first = fat.first_cluster(uki_off)
    uki_chain = fat.chain(uki_first)
    if uki_chain != list(range(uki_first, uki_first + len(uki_chain))):
        raise FatError(f"{uki_path} is not stored contiguously on the ESP")
    start = fat.cluster_offset(uki_first)
    sections = pe_sections(bytes(fat.image[start : start + fat.size(uki_off)]))
    for name, (section, size) in links.items():
        if section not in sections:
            raise FatError(f"{uki_path} has no {section} section")
        raw_ptr, raw_size, _ = sections[section]
        if raw_ptr % fat.cluster_bytes or size > raw_size:
            raise FatError(
                f"{uki_path}'s {section} section (file offset {raw_ptr}, {raw_size} bytes) does not "
                f"start on a {fat.cluster_bytes}-byte cluster or is smaller than {name} ({size} bytes)"
            )
        off = fat.lookup(name)
        for cluster in fat.chain(fat.first_cluster(off)):  # the placeholder's own clusters
            fat.set_entry(cluster, FREE)
        fat.point(off, uki_first + raw_ptr // fat.cluster_bytes, size)
    if fat.fat32 and fat.fsinfo_sector:
        # The free-cluster count and next-free hint are now stale: "unknown" (0xFFFFFFFF).
        struct.pack_into("<II", fat.image, fat.fsinfo_sector * fat.bps + 488, 0xFFFFFFFF, 0xFFFFFFFF)
    with open(esp_path, "r+b") as f:
        f.write(fat.image)
