#!/usr/bin/env bash
# A three-node exoroute cluster on this machine, for trying cluster routes.
#
#   deploy/local-cluster.sh start [DIR]   # build if needed, certificates, configs, 3 daemons
#   deploy/local-cluster.sh stop  [DIR]   # SIGTERM each node (graceful), wait
#   deploy/local-cluster.sh status [DIR]
#
# DIR (default ./exoroute-cluster) gets certs/ (deploy/gen-certs.sh), and n1/ n2/ n3/ with each
# node's config.json, data, log and pid. Each node owns four simulated venues (N<k>-V0..3);
# peers listen on 127.0.0.1:5061<k> (mutual TLS), clients on 127.0.0.1:5055<k> (TLS, the
# node's dev CA in <node>/certs/ca.pem), metrics on http://127.0.0.1:946<4+k>/metrics. Route
# through any node, e.g.:
#   ./build/clients/exoroutectl/exoroutectl --endpoint 127.0.0.1:50551 \
#       --ca exoroute-cluster/n1/certs/ca.pem route --id demo-1 --symbol BTC-USD --side buy --qty 12
#   (a plan only; add --execute to trade, --wait to follow it to the end)
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-}
dir=${2:-./exoroute-cluster}
exorouted=./build/daemon/exorouted

# Whether process $1 runs (kill -0 alone also passes a zombie: a node killed from a shell that
# has not reaped it yet, which `status` called running).
running() {
  kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != "Z" ]
}

venues_of() {  # node number -> JSON venues
  local k=$1 out="" v seed
  for v in 0 1 2 3; do
    seed=$((k * 10 + v))
    [ -n "$out" ] && out+=","
    out+="{\"id\": \"N$k-V$v\", \"taker_fee_bps\": $((1 + seed % 4)),
      \"markets\": [{\"symbol\": \"BTC-USD\", \"lot_size\": 100000}],
      \"sim\": {\"seed\": $seed, \"mid_price\": $((6500000 + 50 * (seed % 5))), \"tick_size\": 50,
               \"depth\": 20, \"level_size\": $((20000000 + 5000000 * v)), \"latency_ms\": 2}}"
  done
  echo "$out"
}

start() {
  if [ ! -x "$exorouted" ]; then
    ./deploy/install-deps.sh
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build --target exorouted exoroutectl
  fi
  ./deploy/gen-certs.sh "$dir/certs" n1 n2 n3 >/dev/null
  local certs k j peers
  certs=$(cd "$dir/certs" && pwd)
  for k in 1 2 3; do
    mkdir -p "$dir/n$k"
    if [ -f "$dir/n$k/pid" ] && running "$(cat "$dir/n$k/pid")"; then
      echo "n$k already running (pid $(cat "$dir/n$k/pid"))"
      continue
    fi
    peers=""
    for j in 1 2 3; do
      [ "$j" = "$k" ] && continue
      [ -n "$peers" ] && peers+=", "
      peers+="{\"node_id\": \"n$j\", \"address\": \"127.0.0.1:5061$j\"}"
    done
    cat >"$dir/n$k/config.json" <<JSON
{
  "node_id": "n$k",
  "data_dir": "$(cd "$dir/n$k" && pwd)",
  "listen": {"address": "127.0.0.1:5055$k"},
  "instruments": [{"symbol": "BTC-USD", "price_scale": 2, "qty_scale": 8}],
  "venues": [$(venues_of "$k")],
  "admin": {"listen": "127.0.0.1:946$((4 + k))"},
  "cluster": {
    "listen": "127.0.0.1:5061$k",
    "ca_file": "$certs/ca.pem", "cert_file": "$certs/n$k.pem", "key_file": "$certs/n$k.key",
    "peers": [$peers]
  }
}
JSON
    rm -f "$dir/n$k/endpoint"
    "$exorouted" --config "$dir/n$k/config.json" >"$dir/n$k/exorouted.out" 2>"$dir/n$k/exorouted.log" &
    echo $! >"$dir/n$k/pid"
  done
  for k in 1 2 3; do
    for _ in $(seq 1 300); do
      [ -s "$dir/n$k/endpoint" ] && break
      if ! running "$(cat "$dir/n$k/pid")"; then
        echo "n$k failed to start:" >&2
        tail -20 "$dir/n$k/exorouted.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "n$k serving clients on $(cat "$dir/n$k/endpoint"), peers on 127.0.0.1:5061$k, metrics on http://127.0.0.1:946$((4 + k))/metrics"
  done
}

stop() {
  local k pid
  for k in 1 2 3; do
    [ -f "$dir/n$k/pid" ] || continue
    pid=$(cat "$dir/n$k/pid")
    if running "$pid"; then
      kill -TERM "$pid"
      for _ in $(seq 1 300); do running "$pid" || break; sleep 0.1; done
      echo "n$k stopped"
    fi
    rm -f "$dir/n$k/pid"
  done
}

status() {
  local k
  for k in 1 2 3; do
    if [ -f "$dir/n$k/pid" ] && running "$(cat "$dir/n$k/pid")"; then
      echo "n$k running (pid $(cat "$dir/n$k/pid")) on $(cat "$dir/n$k/endpoint" 2>/dev/null)"
    else
      echo "n$k stopped"
    fi
  done
}

# stop and status of a directory that holds no cluster say so (they said "n1 stopped" or nothing).
no_cluster() {
  if [ ! -d "$dir/n1" ]; then
    echo "no cluster in $dir (deploy/local-cluster.sh start $dir makes one)" >&2
    exit 1
  fi
}

case "$cmd" in
  start) start ;;
  stop) no_cluster; stop ;;
  status) no_cluster; status ;;
  *) echo "usage: $0 start|stop|status [DIR]" >&2; exit 2 ;;
esac
