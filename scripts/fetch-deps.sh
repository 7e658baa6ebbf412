#!/usr/bin/env bash
# For a build machine without a package registry (the GPU machine): run this
# on a Debian/Ubuntu machine that has one, then carry the folder .deps/ along.
# It downloads the jansson, cmocka, PCRE2 and utf8proc packages and unpacks them with dpkg -x;
# CMake (cmake/FindDeps.cmake) finds them there.
#
#   bash scripts/fetch-deps.sh [DEST]                 # the .deb dependencies into DEST (default .deps/)
#   bash scripts/fetch-deps.sh --cusparselt [DEST]    # also the pinned cuSPARSELt, in parts
#   bash scripts/fetch-deps.sh --assemble [DEST]      # on the GPU machine: join the parts
#
# cuSPARSELt: the GPU machine has its own (torch's wheel, 0.8.0), which the
# GPU scripts use by default, and every result names the version that
# loaded. To run the pinned version (cmake/CUSPARSELT_VERSION) there
# instead, --cusparselt packs third_party/cusparselt-<version> (made by
# scripts/setup.sh) into DEST/cusparselt-<version>.tar.gz.part-aa, -ab, ...
# of 48 MiB each (a device call carries 64 MiB with the work tree), plus its
# SHA-256. Carry one part per call (the machine keeps what earlier calls
# left while it stays warm), then --assemble there checks the SHA-256 and
# unpacks DEST/cusparselt-<version>/{include,lib}: pass that folder as
# CUSPARSELT_ROOT.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=debs
case "${1:-}" in
  --cusparselt) mode=cusparselt; shift ;;
  --assemble) mode=assemble; shift ;;
  -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
esac
dest=${1:-$root/.deps}
ver=${CUSPARSELT_VERSION:-$(tr -d ' \n' < "$root/cmake/CUSPARSELT_VERSION")}
pack=$dest/cusparselt-$ver.tar.gz

if [ $mode = assemble ]; then
  parts=("$pack".part-*)
  [ -e "${parts[0]}" ] || { echo "error: fetch-deps: no $pack.part-* here" >&2; exit 1; }
  [ -f "$pack.sha256" ] || { echo "error: fetch-deps: $pack.sha256 missing" >&2; exit 1; }
  want=$(cut -d' ' -f1 < "$pack.sha256")
  got=$(cat "${parts[@]}" | sha256sum | cut -d' ' -f1)
  if [ "$want" != "$got" ]; then
    echo "error: fetch-deps: the ${#parts[@]} parts of $pack do not match its SHA-256 (a part missing or cut short?)" >&2
    exit 1
  fi
  rm -rf "$dest/cusparselt-$ver.new"; mkdir -p "$dest/cusparselt-$ver.new"
  cat "${parts[@]}" | tar -xz -C "$dest/cusparselt-$ver.new" --strip-components=1
  rm -rf "$dest/cusparselt-$ver"; mv "$dest/cusparselt-$ver.new" "$dest/cusparselt-$ver"
  echo "fetch-deps: cuSPARSELt $ver in $dest/cusparselt-$ver (CUSPARSELT_ROOT=$dest/cusparselt-$ver)" >&2
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download libjansson-dev libjansson4 libcmocka-dev libcmocka0 libpcre2-dev libpcre2-8-0 \
  libutf8proc-dev libutf8proc2 >/dev/null)
mkdir -p "$dest"
for f in "$tmp"/*.deb; do dpkg -x "$f" "$dest"; done
echo "fetch-deps: unpacked $(ls "$tmp" | wc -l) packages into $dest" >&2

if [ $mode = cusparselt ]; then
  src=$root/third_party/cusparselt-$ver
  [ -f "$src/lib/libcusparseLt.so.0" ] || CUSPARSELT_VERSION=$ver bash "$root/scripts/setup.sh"
  rm -f "$pack".part-* "$pack.sha256"
  tar -czf "$tmp/c.tar.gz" -C "$root/third_party" "cusparselt-$ver"
  sha256sum < "$tmp/c.tar.gz" | sed 's/ .*//' > "$pack.sha256"
  split -b 48M "$tmp/c.tar.gz" "$pack.part-"
  echo "fetch-deps: cuSPARSELt $ver in $(ls "$pack".part-* | wc -l) parts: $(cd "$dest" && ls cusparselt-"$ver".tar.gz.part-* | tr '\n' ' ')" >&2
fi
