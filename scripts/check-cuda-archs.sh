#!/usr/bin/env bash
# CI check (ctest check_cuda_archs): every CUDA object of a build holds a
# kernel image for every architecture the build lists, so the default build
# really runs on every GPU it names (README: "GPUs").
#   bash scripts/check-cuda-archs.sh BUILD_DIR "80-real,86-real,...,120-virtual"
#   bash scripts/check-cuda-archs.sh BUILD_DIR all   # the default list (SS_CUDA_ARCHS_ALL
#                                                    # of cmake/CudaArchs.cmake): CI's proof
#                                                    # that the default build has every image
# An entry "NN[a|f]-real" needs the cubin sm_NN[a|f], "-virtual" the PTX, a bare
# entry both (as CMake builds them). Objects: every src/**/*.cu of the tree,
# found as BUILD_DIR/<dir>/CMakeFiles/<target>.dir/<rest of its path>.o. Uses cuobjdump
# (the CUDA toolkit's, or the one scripts/setup.sh unpacks into
# third_party/cuda-tools/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: check-cuda-archs.sh BUILD_DIR ARCH_LIST}
archs=${2:?usage: check-cuda-archs.sh BUILD_DIR ARCH_LIST}
cuobjdump=$(command -v cuobjdump || true)
for c in /usr/local/cuda/bin/cuobjdump "$root"/third_party/cuda-tools/bin/cuobjdump; do
  [ -n "$cuobjdump" ] || { [ -x "$c" ] && cuobjdump=$c; } || true
done
[ -n "$cuobjdump" ] || { echo "error: check-cuda-archs: cuobjdump not found (bash scripts/setup.sh fetches it)" >&2; exit 1; }

if [ "$archs" = all ]; then
  archs=$(sed -n 's/^set(SS_CUDA_ARCHS_ALL "\([^"]*\)")$/\1/p' "$root/cmake/CudaArchs.cmake")
  [ -n "$archs" ] || { echo "error: check-cuda-archs: no SS_CUDA_ARCHS_ALL in cmake/CudaArchs.cmake" >&2; exit 1; }
fi
want_elf=(); want_ptx=()
IFS=',;' read -r -a entries <<<"$archs"
for e in "${entries[@]}"; do
  [[ $e =~ ^([0-9]+[af]?)(-real|-virtual)?$ ]] || { echo "error: check-cuda-archs: bad architecture '$e'" >&2; exit 1; }
  sm=${BASH_REMATCH[1]}
  case "${BASH_REMATCH[2]}" in
    -real) want_elf+=("$sm") ;;
    -virtual) want_ptx+=("$sm") ;;
    *) want_elf+=("$sm"); want_ptx+=("$sm") ;;
  esac
done

# The objects of the build by their source: BUILD/<dir>/CMakeFiles/<target>.dir/<rel>.cu.o
# compiles <dir>/<rel>.cu (so two sources of one name in different folders stay apart).
declare -A objects=()
while IFS= read -r obj; do
  rel=${obj#"$build"/}
  rel=$(sed -E 's#/CMakeFiles/[^/]+\.dir/#/#' <<<"$rel")
  objects[${rel%.o}]=$obj
done < <(find "$build" -path '*/CMakeFiles/*' -name '*.cu.o')

fail=0; n=0
while IFS= read -r src; do
  name=$(basename "$src")
  obj=${objects[$src]:-}
  if [ -z "$obj" ]; then
    echo "FAIL $src: no object $name.o in $build" >&2; fail=1; continue
  fi
  n=$((n + 1))
  stem=${name%.cu}
  elf=$("$cuobjdump" --list-elf "$obj" 2>/dev/null || true)
  ptx=$("$cuobjdump" --list-ptx "$obj" 2>/dev/null || true)
  for sm in ${want_elf[@]+"${want_elf[@]}"}; do
    grep -q "$stem\.sm_$sm\.cubin\$" <<<"$elf" || { echo "FAIL $src: no sm_$sm cubin in $obj" >&2; fail=1; }
  done
  for sm in ${want_ptx[@]+"${want_ptx[@]}"}; do
    grep -q "$stem\.sm_$sm\.ptx\$" <<<"$ptx" || { echo "FAIL $src: no compute_$sm PTX in $obj" >&2; fail=1; }
  done
done < <(cd "$root" && find src -name '*.cu' | sort)
[ $n -gt 0 ] || { echo "error: check-cuda-archs: no CUDA objects under $build" >&2; exit 1; }
if [ $fail = 0 ]; then
  echo "check-cuda-archs: $n CUDA objects, each with cubins for ${want_elf[*]:-none} and PTX for ${want_ptx[*]:-none}"
fi
exit $fail
