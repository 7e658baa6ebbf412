#!/usr/bin/env bash
# For a build machine without a package registry (the GPU machine): run this
# on a Debian/Ubuntu machine that has one, then carry the folder .deps/ along.
# It downloads the jansson and cmocka packages and unpacks them with dpkg -x;
# CMake (cmake/FindDeps.cmake) finds them there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/.deps}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download libjansson-dev libjansson4 libcmocka-dev libcmocka0 >/dev/null)
mkdir -p "$dest"
for f in "$tmp"/*.deb; do dpkg -x "$f" "$dest"; done
echo "fetch-deps: unpacked $(ls "$tmp" | wc -l) packages into $dest" >&2
