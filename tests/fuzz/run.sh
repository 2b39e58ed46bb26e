#!/usr/bin/env bash
# Fuzzes exoroute's input surfaces with libFuzzer (tests/fuzz/fuzz_target.h):
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     (default: 60 seconds each, every target)
# Targets: feed (market-data frames), solver (SolveInput), route (RouteRequest through the
# engine), amend (AmendPlanRequest on a working plan), peer (sequences of peer calls to a
# cluster node), audit (Merkle proofs and canonical delta bytes, as `exoroutectl audit check-*`
# reads them), config (config files), executions (execution reports from a venue into the
# engine), fix (raw FIX messages from a venue through
# QuickFIX's parsing and validation into a FIX venue's events and book), store (a node's
# database files damaged on disk, then opened as the daemon opens them), coordinator (a cluster
# route against a node whose answers are changed on the way: a faulty or lying peer), books (book
# files and orders for `exoroutectl solve`). Builds in build-fuzz/ with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer (installs clang first if it is missing); each
# target's corpus grows in build-fuzz/corpus/<target>/, started from its seeds and the inputs
# kept in tests/fuzz/corpus/<target>/. An input that breaks a target is written to
# build-fuzz/crashes/<target>/: fix the code, then copy the input into tests/fuzz/corpus/<target>/
# under a name that says what it broke — `./test.sh` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(feed solver route amend peer audit config executions fix store coordinator books)

./deploy/install-deps.sh --fuzz
BUILD_DIR=${BUILD_DIR:-build-fuzz}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DEXO_FUZZ=ON -DEXO_TCMALLOC=OFF
fi
cmake --build "$BUILD_DIR" --target "${targets[@]/#/exo_fuzz_}"

# RocksDB's pending flush on the never-closed store at exit (tests/fuzz/lsan.supp says why).
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

failed=0
for t in "${targets[@]}"; do
  corpus="$BUILD_DIR/corpus/$t" crashes="$BUILD_DIR/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  echo "== $t: $seconds s"
  # The first run also writes the target's seeds into its corpus (EXO_FUZZ_SEEDS).
  if EXO_FUZZ_SEEDS="$corpus" "$BUILD_DIR/tests/fuzz/exo_fuzz_$t" "$corpus" "tests/fuzz/corpus/$t" \
      -max_total_time="$seconds" -max_len=8192 -timeout=10 -artifact_prefix="$crashes/" \
      -print_final_stats=1 2> "$BUILD_DIR/fuzz-$t.log"; then
    grep -a -E "^stat::number_of_executed_units|^stat::new_units_added" "$BUILD_DIR/fuzz-$t.log" | sed 's/^/   /'
  else
    failed=1
    echo "   FAILED: $(grep -a -m1 -E 'FUZZ_CHECK|ERROR|runtime error' "$BUILD_DIR/fuzz-$t.log" || true)"
    echo "   input: $(ls -t "$crashes" | head -1)  log: $BUILD_DIR/fuzz-$t.log"
  fi
done
exit $failed
