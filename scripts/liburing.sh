#!/usr/bin/env bash
# Finds the system liburing for both builds: `version` prints its version,
# `libs` its link flags, `cflags` its compile flags. Fails with the command to
# run when it is missing (the servers need it; the build records its version).
set -euo pipefail
if ! pkg-config --exists liburing 2>/dev/null; then
  echo "perflab: liburing not found. Install it: apt-get install liburing-dev (Debian/Ubuntu), dnf install liburing-devel (Fedora), or run bash scripts/setup.sh" >&2
  exit 1
fi
case "${1:-version}" in
  version) pkg-config --modversion liburing ;;
  libs) pkg-config --libs liburing ;;
  cflags) pkg-config --cflags liburing ;;
  *) echo "usage: scripts/liburing.sh version|libs|cflags" >&2; exit 2 ;;
esac
