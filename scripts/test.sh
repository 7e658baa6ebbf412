#!/usr/bin/env bash
# Builds everything (CUDA code included when nvcc is present) with
# AddressSanitizer + UBSan and runs every test. GPU tests (CTest label `gpu`)
# report "Skipped" on a machine without a CUDA device.
#   bash scripts/test.sh              # all tests
#   bash scripts/test.sh -L gpu       # extra arguments go to ctest
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SS_TEST_BUILD:-$root/build-test}
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSS_SANITIZE=ON -DSS_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@"
