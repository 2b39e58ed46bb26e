#!/usr/bin/env bash
# Installs what is missing, configures (Ninja + ccache), builds everything and runs the whole
# test suite through ctest. Exits non-zero on any failure. Safe to run again and again.
#
#   ./test.sh              the suite (what CI runs)
#   ./test.sh --sanitize   the same suite built with AddressSanitizer, LeakSanitizer and
#                          UndefinedBehaviorSanitizer, in build-sanitize/: a memory error or
#                          undefined behaviour aborts the process that has it (a test, or an
#                          exorouted a test started, which then fails it); leaks are reported
#                          when a process exits. About twice the cold build time.
set -euo pipefail
cd "$(dirname "$0")"

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument \"$arg\" (see --help)" >&2; exit 2 ;;
  esac
done

./deploy/install-deps.sh

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/exoroute-ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G}
JOBS=${JOBS:-$(nproc)}
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "$sanitize" = 1 ]; then
  BUILD_DIR=${BUILD_DIR:-build-sanitize}
  san="-fsanitize=address,undefined"
  # The system allocator (the sanitizers bring their own); every UB report is fatal.
  cmake_args+=(-DEXO_TCMALLOC=OFF
               "-DCMAKE_CXX_FLAGS=$san -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
               "-DCMAKE_EXE_LINKER_FLAGS=$san" "-DCMAKE_SHARED_LINKER_FLAGS=$san")
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
fi
BUILD_DIR=${BUILD_DIR:-build}

cmake -S . -B "$BUILD_DIR" "${cmake_args[@]}"
cmake --build "$BUILD_DIR" -j "$JOBS"

cd "$BUILD_DIR"
# A failing test's output kept up to 4 MB: a test that prints without end (a Catch2 test name
# whose continuation lines it cannot wrap once did, gigabytes a minute) fails at its timeout
# with its first lines shown, instead of filling memory.
ctest --output-on-failure -j "$JOBS" --timeout 600 --test-output-size-failed 4000000
