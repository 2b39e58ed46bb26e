#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout to a running exorouted: installs what is missing,
# builds, and starts the daemon in the foreground on its embedded default (three simulated
# venues, RocksDB under ./exoroute-data, development TLS certificates generated on first start,
# listening on 127.0.0.1:50551). Ctrl-C stops it cleanly. Extra arguments go to exorouted
# (e.g. --config my.json).
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/exoroute-ccache}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target exorouted exoroutectl

exec ./build/daemon/exorouted "$@"
