#!/usr/bin/env bash
# Installs the Debian 12 packages exoroute needs to build, test and run.
# Idempotent: only packages that are missing are installed; re-running is a no-op.
#   --fuzz   also clang and its libFuzzer runtime, for tests/fuzz/run.sh (not needed otherwise)
set -euo pipefail

PACKAGES=(
  # Toolchain
  cmake ninja-build ccache pkg-config g++
  # Required libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev libquickfix-dev libboost-dev catch2 libssl-dev libsimdjson-dev
  # xxHash: the store checks RocksDB's table blocks before RocksDB opens them (store/table_check.h)
  libxxhash-dev
  # Tools used by the daemon's dev set-up and by tests
  libbenchmark-dev coinor-libclp-dev openssl python3-grpcio python3-protobuf
  # tcmalloc (gperftools): the allocator exorouted and the benchmarks link (docs/BENCHMARKS.md)
  libgoogle-perftools-dev
  # The Python SDK's Ed25519 check of signed chain heads (an independent verifier)
  python3-cryptography
  # Parses deploy/prometheus/exoroute-alerts.yml in its test (tests/deploy/verify_monitoring.py)
  python3-yaml
)
if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
