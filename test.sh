#!/usr/bin/env bash
# Installs what is missing, configures (Ninja + ccache), builds everything and runs the whole
# test suite through ctest. Exits non-zero on any failure. Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")"

./deploy/install-deps.sh

BUILD_DIR=${BUILD_DIR:-build}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/exoroute-ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G}
JOBS=${JOBS:-$(nproc)}

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$JOBS"

cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" --timeout 600
