#!/usr/bin/env bash
# Install the host packages unikernel_rules needs on a Debian/Ubuntu machine, if missing:
#   qemu-system-x86      boots images (`pants run`, tests, benchmarks)
#   ovmf                 QEMU's UEFI firmware: boots disk images with `--unikernel-run-firmware=uefi`
#   qemu-utils, mtools   let tests look at disk images (qemu-img check/compare, mdir); images use
#                        the Debian-locked qemu-img and mtools
#   cpio                 lets tests cross-check the initramfs with GNU cpio
#   squashfs-tools       lets unit tests check mkrootfs.py (images use the Debian-locked one)
#   faketime             the reproducibility test runs its second build at a fake date
#   libmagic1 libarchive13
#                        diffoscope's two imports (python-magic, libarchive-c) load them
#   zstd                 lets diffoscope look inside zstd-compressed members
#   python3.11           the interpreter Pants builds the tools' PEXes (and Python apps) for
#   skopeo               `pants publish` pushes with it (as Pants' docker backend pushes with docker);
#                        tests also read OCI layouts and registries with it
#   docker-registry      an OCI registry that the publish tests start on loopback
#   docker.io            a Docker engine for `pants run --unikernel-run-format=container` (only if
#                        no dockerd is installed: Docker's own docker-ce packages conflict with it)
# No compiler: the kernel is built by a toolchain of Debian packages from the lock (gcc-12,
# binutils, make, ...), chrooted into in a user namespace; the host needs only a kernel that
# allows user namespaces. Everything else (Pants, pex, zig, Debian packages for images and for
# the kernel build) is fetched and pinned by ./pants.
set -euo pipefail

packages=(qemu-system-x86 ovmf qemu-utils mtools cpio squashfs-tools faketime libmagic1 libarchive13 zstd python3.11 skopeo docker-registry)
command -v dockerd >/dev/null || [[ -x /usr/sbin/dockerd ]] || packages+=(docker.io)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup-host: please install the equivalents of: ${missing[*]}" >&2
  exit 1
fi
sudo=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null || { echo "setup-host: run as root, or install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup-host: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
