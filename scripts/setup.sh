#!/usr/bin/env bash
# Installs what the build needs on a fresh Debian/Ubuntu machine. Idempotent:
# a second run changes nothing and finishes in a second.
#   - Debian packages: compilers (gcc; clang + libFuzzer for scripts/fuzz.sh), CMake, jansson, libcurl, cmocka, gnuplot
#   - cuSPARSELt from PyPI's nvidia-cusparselt-cu13 wheel, unpacked into
#     third_party/cusparselt/{include,lib} where CMake looks for it
#     (only when the CUDA toolkit is present; pinned to the GPU machine's 0.8.0)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CUSPARSELT_VERSION=${CUSPARSELT_VERSION:-0.8.0}

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

pkgs=(build-essential cmake pkg-config libjansson-dev libcurl4-openssl-dev libssl-dev libcmocka-dev gnuplot-nox python3 python3-pip unzip)
# the fuzz harnesses (scripts/fuzz.sh): clang with libFuzzer and its sanitizers, LLVM's OpenMP
pkgs+=(clang libclang-rt-dev libomp-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  dest="$root/third_party/cusparselt"
  if [ ! -f "$dest/include/cusparseLt.h" ] || [ ! -f "$dest/lib/libcusparseLt.so.0" ] \
     || ! grep -Eq "CUSPARSELT_VER_MINOR +$(echo "$CUSPARSELT_VERSION" | cut -d. -f2)\$" "$dest/include/cusparseLt.h"; then
    echo "setup: fetching nvidia-cusparselt-cu13==$CUSPARSELT_VERSION from PyPI" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    py=python3; command -v "$py" >/dev/null || py=python
    "$py" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "nvidia-cusparselt-cu13==$CUSPARSELT_VERSION"
    unzip -q -o "$tmp"/nvidia_cusparselt_cu13-*.whl -d "$tmp/w"
    hdr=$(find "$tmp/w" -name cusparseLt.h | head -n1)
    lib=$(find "$tmp/w" -name 'libcusparseLt.so*' | head -n1)
    [ -n "$hdr" ] && [ -n "$lib" ] || { echo "error: wheel has no cusparseLt.h / libcusparseLt.so" >&2; exit 1; }
    rm -rf "$dest.new"; mkdir -p "$dest.new/include" "$dest.new/lib"
    cp "$hdr" "$dest.new/include/"
    cp "$lib" "$dest.new/lib/libcusparseLt.so.0"
    ln -sf libcusparseLt.so.0 "$dest.new/lib/libcusparseLt.so"
    rm -rf "$dest"; mv "$dest.new" "$dest"
  fi
fi
echo "setup: ok" >&2
