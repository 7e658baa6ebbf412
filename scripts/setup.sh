#!/usr/bin/env bash
# Installs what the build needs on a fresh Debian/Ubuntu machine. Idempotent:
# a second run changes nothing and finishes in a second.
#   - Debian packages: compilers (gcc; clang + libFuzzer for scripts/fuzz.sh), CMake, jansson, libcurl, cmocka, PCRE2, utf8proc, gnuplot
#   - cuobjdump (PyPI's nvidia-cuda-cuobjdump) when the toolkit lacks it
#   - cuSPARSELt from PyPI's nvidia-cusparselt-cu13 wheel, unpacked into
#     third_party/cusparselt-<version>/{include,lib} where CMake looks for it
#     (only when the CUDA toolkit is present). The version is a named choice:
#     cmake/CUSPARSELT_VERSION pins it (CMake reads the same file), and
#     CUSPARSELT_VERSION=0.8.0 bash scripts/setup.sh installs another one next
#     to it (then configure with -DCUSPARSELT_VERSION=0.8.0).
#     Pinned: 0.10.0, the newest release; on the H200 (2026-12-01, issue 14)
#     it ran the kernel benchmark and the pipeline next to 0.8.0, within ~3%
#     at every kernel point (0.8.1 fixed 0.8.0's H100 regressions). The GPU
#     machine itself has 0.8.0 (torch's wheel); every result names the
#     version that loaded (README: "cuSPARSELt version").
#   - optional, with --quality (or SS_QUALITY=1): the text that
#     scripts/train_quality_model.py trains on, the King James Version as
#     Debian's bible-kjv-text ships it, with the `bible` program that prints
#     it (package bible-kjv); see docs/QUALITY.md. Neither the build nor the
#     tests nor CI need it. The script's Python packages (torch, transformers,
#     tokenizers, safetensors) come from pip, as for the other fixture scripts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quality=${SS_QUALITY:-0}
for arg in "$@"; do
  case "$arg" in
    --quality) quality=1 ;;
    *) echo "error: setup.sh: unknown argument '$arg' (the only one is --quality)" >&2; exit 2 ;;
  esac
done
CUSPARSELT_VERSION=${CUSPARSELT_VERSION:-$(tr -d ' \n' < "$root/cmake/CUSPARSELT_VERSION")}
case "$CUSPARSELT_VERSION" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "error: CUSPARSELT_VERSION '$CUSPARSELT_VERSION' is not a version like 0.10.0" >&2; exit 2 ;;
esac
CUOBJDUMP_VERSION=13.2.51

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

pkgs=(build-essential cmake pkg-config libjansson-dev libcurl4-openssl-dev libssl-dev libcmocka-dev libpcre2-dev libutf8proc-dev gnuplot-nox python3 python3-pip unzip)
# the fuzz harnesses (scripts/fuzz.sh): clang with libFuzzer and its sanitizers, LLVM's OpenMP
pkgs+=(clang libclang-rt-dev libomp-dev)
# docs/QUALITY.md's model: the KJV text (bible-kjv-text) and its `bible` reader
if [ "$quality" = 1 ]; then pkgs+=(bible-kjv bible-kjv-text); fi
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
  dest="$root/third_party/cusparselt-$CUSPARSELT_VERSION"
  IFS=. read -r want_major want_minor want_patch <<<"$CUSPARSELT_VERSION"
  have() { grep -Eq "^#define CUSPARSELT_VER_$1 +$2\$" "$dest/include/cusparseLt.h"; }
  if [ ! -f "$dest/include/cusparseLt.h" ] || [ ! -f "$dest/lib/libcusparseLt.so.0" ] \
     || ! have MAJOR "$want_major" || ! have MINOR "$want_minor" || ! have PATCH "$want_patch"; then
    echo "setup: fetching nvidia-cusparselt-cu13==$CUSPARSELT_VERSION from PyPI" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    py=python3; command -v "$py" >/dev/null || py=python
    "$py" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "nvidia-cusparselt-cu13==$CUSPARSELT_VERSION"
    unzip -q -o "$tmp"/nvidia_cusparselt_cu13-*.whl -d "$tmp/w"
    hdr=$(find "$tmp/w" -name cusparseLt.h | head -n1)
    lib=$(find "$tmp/w" -name 'libcusparseLt.so*' | head -n1)
    [ -n "$hdr" ] && [ -n "$lib" ] || { echo "error: wheel has no cusparseLt.h / libcusparseLt.so" >&2; exit 1; }
    mkdir -p "$root/third_party"
    rm -rf "$dest.new"; mkdir -p "$dest.new/include" "$dest.new/lib"
    cp "$(dirname "$hdr")"/cusparseLt*.h "$dest.new/include/" # 0.10.0 ships a cusparse.h stub next to it
    cp "$lib" "$dest.new/lib/libcusparseLt.so.0"
    ln -sf libcusparseLt.so.0 "$dest.new/lib/libcusparseLt.so"
    rm -rf "$dest"; mv "$dest.new" "$dest"
  fi
  echo "setup: cuSPARSELt $CUSPARSELT_VERSION in $dest" >&2
  # cuobjdump for the CI check that every kernel object has every listed
  # architecture (scripts/check-cuda-archs.sh); PyPI's oldest CUDA 13 one
  # reads the 13.0 toolkit's objects
  if ! command -v cuobjdump >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/cuobjdump ] \
     && [ ! -x "$root/third_party/cuda-tools/bin/cuobjdump" ]; then
    echo "setup: fetching nvidia-cuda-cuobjdump==$CUOBJDUMP_VERSION from PyPI" >&2
    tmp2=$(mktemp -d)
    py=python3; command -v "$py" >/dev/null || py=python
    "$py" -m pip download -q --no-deps --only-binary=:all: -d "$tmp2" "nvidia-cuda-cuobjdump==$CUOBJDUMP_VERSION"
    unzip -q -o "$tmp2"/nvidia_cuda_cuobjdump-*.whl -d "$tmp2/w"
    mkdir -p "$root/third_party/cuda-tools/bin"
    install -m 755 "$(find "$tmp2/w" -name cuobjdump -type f | head -n1)" "$root/third_party/cuda-tools/bin/cuobjdump"
    rm -rf "$tmp2"
  fi
fi
echo "setup: ok" >&2
