#!/bin/bash
# Compares two builds of exo_solver_bench on BM_HotRatioInterleaved, alternating them so that
# this shared machine's slow spells fall on both alike: one run of OLD, one of NEW, RUNS times.
# Prints, per build and venue count, each run's median decision time (µs) and CLP ratio.
#   tests/bench/ab_solver.sh OLD_BINARY NEW_BINARY [RUNS=4]
# (Make OLD from another commit: build it, copy build/tests/exo_solver_bench aside.)
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 OLD_BINARY NEW_BINARY [RUNS]" >&2
  exit 2
fi
old=$1 new=$2 runs=${3:-4}
for r in $(seq "$runs"); do
  for side in old new; do
    bin=$old
    [[ $side == new ]] && bin=$new
    "$bin" --benchmark_filter='HotRatioInterleaved' 2>/dev/null | awk -v side="$side" '/^BM_HotRatio/ {
      split($1, name, "/"); us = ""; ratio = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^decision_us=/) { us = substr($i, 13) }
        if ($i ~ /^ratio=/) { ratio = substr($i, 7) }
      }
      print side, name[2], us, ratio
    }'
  done
done | awk '{ key = $1 " " $2; us[key] = us[key] " " $3; ratio[key] = ratio[key] " " $4 }
  END { for (k in us) print k, "decision_us:" us[k], " ratio:" ratio[k] }' | sort -k2,2n -k1,1
