#!/usr/bin/env bash
# Build a minimal Linux kernel inside a Pants sandbox.
#
#   build_kernel.sh SOURCE_DEB JOBS LABEL=FRAGMENT ...
#
# SOURCE_DEB is Debian's linux-source-X.Y package (a tarball of the upstream tree plus Debian's
# patches). The config is `make tinyconfig`, then each fragment in order, then olddefconfig.
# Every assignment in a fragment must survive into the final .config: an unknown option, or one
# Kconfig cannot set because of its dependencies, stops the build (exit 3) with LABEL:LINE.
# Outputs: out/kernel (bzImage), out/config, out/release.
set -euo pipefail
export LC_ALL=C

deb="$1"; jobs="$2"; shift 2
# JOBS is Pants' {pants_concurrency}: the slots free when this process started, often 1 while
# a short process held the other one, and never raised later. A -j1 kernel build takes twice as
# long on 2 cores, so use every CPU this sandbox may run on (the job count does not change the
# bytes; it is not part of the cache key either way).
cpus="$(nproc)"
if ((jobs < cpus)); then jobs=$cpus; fi
out="$PWD/out"
mkdir -p "$out" src

# The inner tarball: data.tar.* holds ./usr/src/linux-source-X.Y.tar.xz.
data_member="$(ar t "$deb" | grep '^data\.tar')"
ar p "$deb" "$data_member" > "$data_member"
tar -xf "$data_member" --wildcards '*/usr/src/linux-source-*.tar.*'
rm -f "$data_member"
tar -xf usr/src/linux-source-*.tar.* -C src --strip-components=1
rm -rf usr
cd src

make -s ARCH=x86_64 tinyconfig >/dev/null
fragment_files=()
for spec in "$@"; do fragment_files+=("$PWD/../${spec#*=}"); done
if ((${#fragment_files[@]})); then
  KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m -O . .config "${fragment_files[@]}" >/dev/null
fi
make -s ARCH=x86_64 olddefconfig >/dev/null

# Check every requested value against the final config.
errors=0
report() { echo "UNIKERNEL_CONFIG_ERROR $*"; errors=$((errors + 1)); }
for spec in "$@"; do
  label="${spec%%=*}"; file="../${spec#*=}"; lineno=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    if [[ "$line" =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
      opt="${BASH_REMATCH[1]}"; want="$opt=${BASH_REMATCH[2]}"
    elif [[ "$line" =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
      opt="${BASH_REMATCH[1]}"; want="# $opt is not set"
    elif [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]]; then
      continue
    else
      report "$label:$lineno: cannot parse \`$line\`: expected CONFIG_NAME=value or '# CONFIG_NAME is not set'"
      continue
    fi
    sym="${opt#CONFIG_}"
    have="$(grep -E "^($opt=|# $opt is not set)" .config || true)"
    if [[ "$want" == "# $opt is not set" && -z "$have" ]]; then
      have="# $opt is not set"
    fi
    if [[ "$have" != "$want" ]]; then
      if ! grep -rqE "^[[:space:]]*(menu)?config[[:space:]]+$sym[[:space:]]*$" --include='Kconfig*' .; then
        report "$label:$lineno: $opt does not exist in Linux $(make -s kernelversion) (no Kconfig defines it); remove it or check its spelling"
      else
        deps="$(grep -rhE -A12 "^[[:space:]]*(menu)?config[[:space:]]+$sym[[:space:]]*$" --include='Kconfig*' . \
                | grep -E '^[[:space:]]*depends on' | sed -E 's/^[[:space:]]*//' | sort -u | paste -sd';' - || true)"
        report "$label:$lineno: asked for \`$want\` but Kconfig gave \`${have:-# $opt is not set}\`${deps:+ ($deps)}; enable what it depends on in a fragment"
      fi
    fi
  done < "$file"
done
if ((errors)); then exit 3; fi

make -s ARCH=x86_64 -j"$jobs" bzImage >/dev/null
cp arch/x86/boot/bzImage "$out/kernel"
cp .config "$out/config"
make -s ARCH=x86_64 kernelrelease > "$out/release"
