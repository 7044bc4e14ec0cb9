#!/usr/bin/env bash
# `npm test`: the whole suite, as CI runs it.
#  1. native tests (ctest): the normal cmake-js build, then TSan and ASan/UBSan builds;
#  2. vitest against the node-gyp build (PERFLAB_BUILD=gyp), then against the
#     cmake-js build (PERFLAB_BUILD=cmake): both builds must pass the same tests.
# Exits non-zero on any failure; the last line sums up: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
nodedir="${npm_config_nodedir:-/usr}"

passed=0; failed=0; skipped=0; broken=0
log_dir=$(mktemp -d "${TMPDIR:-/tmp}/perflab-test.XXXXXX")
trap 'rm -rf "$log_dir"' EXIT

step() { printf '\n== %s\n' "$*"; }

# Builds are incremental: cheap when setup.sh already ran.
step "build: tsc, node-gyp, cmake-js, sanitizers"
node node_modules/typescript/bin/tsc -p tsconfig.json || broken=1
gyp=node_modules/node-gyp/bin/node-gyp.js
if [ -f build/Makefile ]; then node "$gyp" build --nodedir="$nodedir" -j 2 >/dev/null || broken=1   # incremental
else node "$gyp" rebuild --nodedir="$nodedir" -j 2 >/dev/null || broken=1; fi
bash scripts/build-native.sh sanitize || broken=1
if [ "$broken" -ne 0 ]; then echo "perflab test: a build failed (see above)"; echo "0 passed, 1 failed"; exit 1; fi

run_ctest() {
  local dir=$1 label=$2
  step "ctest ($label)"
  local out="$log_dir/ctest-$label.txt"
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j 1) 2>&1 | tee "$out"
  local total fails skips
  total=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/p' "$out" | tail -1)
  fails=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/p' "$out" | tail -1)
  skips=$(grep -c '\*\*\*Skipped\|Not Run' "$out" || true)
  if [ -z "$total" ]; then failed=$((failed + 1)); return; fi
  passed=$((passed + total - fails - skips)); failed=$((failed + fails)); skipped=$((skipped + skips))
}
run_ctest build-cmake release
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_ctest build-tsan tsan
ASAN_OPTIONS="detect_leaks=1 abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1" run_ctest build-asan asan

run_vitest() {
  local build=$1
  step "vitest (PERFLAB_BUILD=$build)"
  local json="$log_dir/vitest-$build.json"
  PERFLAB_BUILD=$build node node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json="$json"
  local rc=$?
  if [ ! -s "$json" ]; then failed=$((failed + 1)); return; fi
  local counts
  counts=$(node -e 'const r=require(process.argv[1]); const s=r.numPendingTests+r.numTodoTests; console.log(r.numPassedTests, r.numFailedTests, s)' "$json")
  read -r p f s <<<"$counts"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
}
run_vitest gyp
run_vitest cmake

printf '\nperflab: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
