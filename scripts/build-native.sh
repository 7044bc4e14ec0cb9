#!/usr/bin/env bash
# Native builds beyond node-gyp's:
#   bash scripts/build-native.sh            cmake-js build in build-cmake/ (addon, runner, variants, tests)
#   bash scripts/build-native.sh sanitize   also build-tsan/ and build-asan/ (plain CMake; runner, variants, tests)
# Node's headers are given explicitly (npm_config_nodedir), so nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
jobs="${PERFLAB_JOBS:-2}"

echo "perflab build: cmake-js -> build-cmake/" >&2
node node_modules/cmake-js/bin/cmake-js build --out build-cmake --parallel "$jobs" --log-level warn

if [ "${1:-}" = sanitize ]; then
  for san in thread address; do
    dir=build-tsan; [ "$san" = address ] && dir=build-asan
    echo "perflab build: PERFLAB_SANITIZE=$san -> $dir/" >&2
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFLAB_SANITIZE="$san" >/dev/null
    cmake --build "$dir" --parallel "$jobs" >/dev/null
  done
fi
