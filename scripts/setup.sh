#!/usr/bin/env bash
# perflab setup: installs what a fresh Debian/Ubuntu machine lacks, then the npm
# dependencies, then both native builds and the TypeScript build.
#   bash scripts/setup.sh            everything
#   PERFLAB_SKIP_APT=1 bash ...      never call apt-get (print what is missing instead)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'perflab setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# 1. System packages. liburing is not needed by the queues, but the build finds
#    it and records its version (the io_uring servers need it); valgrind counts
#    instructions for the op_cost workload; wrk checks the HTTP servers.
need_pkgs=()
command -v g++ >/dev/null || need_pkgs+=(g++)
command -v make >/dev/null || need_pkgs+=(make)
command -v cmake >/dev/null || need_pkgs+=(cmake)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v pkg-config >/dev/null || need_pkgs+=(pkg-config)
pkg-config --exists liburing 2>/dev/null || need_pkgs+=(liburing-dev)
command -v valgrind >/dev/null || need_pkgs+=(valgrind)
command -v wrk >/dev/null || need_pkgs+=(wrk)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -z "${PERFLAB_SKIP_APT:-}" ]; then
    say "installing ${need_pkgs[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    say "missing system packages: ${need_pkgs[*]}"
    say "run:  sudo apt-get install ${need_pkgs[*]}   (Debian/Ubuntu)"
    pkg-config --exists liburing 2>/dev/null || die "liburing is required to build; install it and run this script again"
  fi
fi

# 2. Node: 20.17 or newer (node-gyp 12, cmake-js 8).
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=17)?0:1)' \
  || die "Node $(node --version) is too old: perflab needs Node >= 20.17"
[ -f /usr/include/node/node_api.h ] || [ -n "${npm_config_nodedir:-}" ] \
  || die "Node's headers are not in /usr/include/node; set npm_config_nodedir to the Node install prefix that has include/node"

# 3. npm dependencies; `npm ci` also runs node-gyp (the install script), which
#    builds build/Release/perflab.node and build/Release/perflab-runner.
# Node's headers for every native build npm runs (ours and better-sqlite3's,
# which builds from source when its prebuilt binary cannot be downloaded).
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
say "npm ci (builds the node-gyp addon and runner, and better-sqlite3)"
npm ci --no-audit --no-fund

# 4. The cmake-js build (addon, runner, built-in variants, native tests) and the
#    TypeScript build.
bash scripts/build-native.sh sanitize   # the TSan/ASan runners are what perflab check's sanitize stage runs
say "tsc"
npm run --silent build:ts
say "done. Try: npx perflab doctor   |   npm run bench   |   npm test"
