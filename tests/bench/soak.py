#!/usr/bin/python3
"""Soak: a long stream of orders through one exorouted, its memory and latency per block.

Starts a real exorouted (mutual TLS, simulated venues without latency, a temporary data
directory), then sends BLOCKS x PER_BLOCK orders through the Python SDK: of every ten, six
plan-only routes, two executed routes (they fill on the simulated venues), one executed buy
limited far below the market (it waits) that is then cancelled, and one GetPlan of an earlier
order. After each block it prints the daemon's resident memory (VmRSS), its store's size on disk,
its plans in memory and in total, the chain head, and the Route latency p50/p99 seen by the
client in that block.
What a user checks: resident memory levels off (settled plans leave memory; the chain is on
disk), plans in memory stay near the working ones, latency does not drift. At the end the
daemon is killed (SIGKILL: a crash) and started again on the same directory: the time until it
serves, and its chain head against the last one acknowledged; once it is stopped, the table files
the orders left (bytes an order and a delta, for sizing a disk). Figures:
docs/BENCHMARKS.md ("Soak").

With --cluster, the same on a three-node cluster (deploy/local-cluster.sh in a temporary
directory: fixed ports 5055x/5061x/946x, so not beside a running local cluster): cluster routes
through the three nodes in turn — of every ten, seven plan-only, two executed, one GetRoute of
an earlier route — and each node's resident memory and write-ahead log after each block.

usage: tests/bench/soak.py --exorouted build/daemon/exorouted [--blocks 10] [--per-block 2000] [--cluster]
(--cluster starts ./build/daemon/exorouted, as deploy/local-cluster.sh does)
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import exoroute_sdk  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def wal_mib(db_dir):
    total = 0
    for f in os.listdir(db_dir):
        if f.endswith(".log"):
            try:
                total += os.path.getsize(os.path.join(db_dir, f))
            except FileNotFoundError:  # Removed by a flush meanwhile.
                pass
    return total / 2**20


def cluster_soak(args, pb, tmp):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    cluster = os.path.join(tmp, "cluster")
    script = os.path.join(root, "deploy", "local-cluster.sh")
    subprocess.run([script, "start", cluster], check=True, stdout=subprocess.DEVNULL)
    try:
        nodes = []
        for k in (1, 2, 3):
            d = os.path.join(cluster, f"n{k}")
            client = exoroute_sdk.Client(pb, open(os.path.join(d, "endpoint")).read().strip(),
                                         ca_file=os.path.join(d, "certs", "ca.pem"))
            nodes.append((client, int(open(os.path.join(d, "pid")).read()), os.path.join(d, "db")))
        btc = 100_000_000
        print("block  routes  RSS MiB n1/n2/n3    logs MiB n1/n2/n3   files open n1/n2/n3  route p50 ms  p99 ms  plans working  in memory")
        n = 0
        for block in range(1, args.blocks + 1):
            lat = []
            for _ in range(args.per_block):
                n += 1
                client = nodes[n % 3][0]
                kind = n % 10
                start = time.perf_counter()
                if kind < 7:
                    client.route(f"cs-{n}", "BTC-USD", "buy" if n % 2 else "sell", (1 + n % 9) * btc // 10)
                elif kind < 9:
                    client.route(f"cs-{n}", "BTC-USD", "buy" if n % 2 else "sell", btc // 100, mode="execute")
                else:
                    client.get_route(f"cs-{n - 3}")
                    continue
                lat.append(time.perf_counter() - start)
            st = [c.status() for c, _, _ in nodes]
            print(f"{block:5d}  {n:6d}  " + "/".join(f"{rss_kib(p) / 1024:.1f}" for _, p, _ in nodes).ljust(19) +
                  "  " + "/".join(f"{wal_mib(d):.1f}" for _, _, d in nodes).ljust(18) +
                  "  " + "/".join(str(s.process.open_fds) for s in st).ljust(19) +
                  f"  {percentile(lat, 0.5) * 1e3:12.3f}  {percentile(lat, 0.99) * 1e3:6.3f}  " +
                  "/".join(str(s.plans_working) for s in st).rjust(13) + "  " +
                  "/".join(str(s.plans_in_memory) for s in st).rjust(9), flush=True)
    finally:
        subprocess.run([script, "stop", cluster], check=False, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exorouted", required=True)
    ap.add_argument("--proto-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto"))
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--per-block", type=int, default=2000)
    ap.add_argument("--cluster", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="exo-soak-") as tmp:
        pb = exoroute_sdk.load_protos(args.proto_dir, os.path.join(tmp, "gen"))
        if args.cluster:
            return cluster_soak(args, pb, tmp)
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        cfg = json.loads(subprocess.run([args.exorouted, "--print-default-config"], check=True,
                                        capture_output=True, text=True).stdout)
        cfg["data_dir"] = data
        cfg["listen"]["address"] = "127.0.0.1:0"
        cfg["admin"]["listen"] = "127.0.0.1:0"
        cfg["tls"] = {"require_client_cert": True}
        for v in cfg["venues"]:
            v["sim"]["latency_ms"] = 0
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(cfg, f)
        log = open(os.path.join(tmp, "exorouted.log"), "w")
        endpoint_file = os.path.join(data, "endpoint")
        certs = os.path.join(data, "certs")

        def launch():
            """Starts exorouted; (process, client, seconds until it served)."""
            if os.path.exists(endpoint_file):
                os.remove(endpoint_file)
            t0 = time.time()
            p = subprocess.Popen([args.exorouted, "--config", os.path.join(tmp, "config.json")],
                                 stdout=subprocess.DEVNULL, stderr=log)
            while not os.path.exists(endpoint_file):
                if p.poll() is not None or time.time() > t0 + 300:
                    raise RuntimeError("exorouted did not start (see its log)")
                time.sleep(0.005)
            c = exoroute_sdk.Client(pb, open(endpoint_file).read().strip(),
                                    ca_file=os.path.join(certs, "ca.pem"),
                                    cert_file=os.path.join(certs, "client.pem"),
                                    key_file=os.path.join(certs, "client.key"))
            return p, c, time.time() - t0

        proc, client, _ = launch()
        try:
            btc = 100_000_000
            print(f"exorouted pid {proc.pid}: start RSS {rss_kib(proc.pid) / 1024:.1f} MiB")
            print("block  orders  RSS MiB  db MiB  files open  plans in memory  plans total  chain head  route p50 ms  p99 ms  orders/s")
            n = 0
            for block in range(1, args.blocks + 1):
                lat = []
                t0 = time.time()
                for _ in range(args.per_block):
                    n += 1
                    kind = n % 10
                    start = time.perf_counter()
                    if kind < 6:
                        client.route(f"soak-{n}", "BTC-USD", "buy" if kind % 2 else "sell", (1 + n % 7) * btc // 10)
                        lat.append(time.perf_counter() - start)
                    elif kind < 8:
                        client.route(f"soak-{n}", "BTC-USD", "sell" if kind == 6 else "buy", btc // 100, mode="execute")
                        lat.append(time.perf_counter() - start)
                    elif kind == 8:
                        client.route(f"soak-{n}", "BTC-USD", "buy", btc // 100, mode="execute", limit=100)
                        client.cancel(f"soak-{n}", "soak")
                    else:
                        client.get_plan(f"soak-{n - 5}")
                elapsed = time.time() - t0
                s = client.status()
                print(f"{block:5d}  {n:6d}  {rss_kib(proc.pid) / 1024:7.1f}  {s.store_size_bytes / 2**20:6.1f}  {s.process.open_fds:10d}  {s.plans_in_memory:15d}  "
                      f"{s.plans_total:11d}  {s.chain_head.sequence:10d}  {percentile(lat, 0.5) * 1e3:12.3f}  "
                      f"{percentile(lat, 0.99) * 1e3:6.3f}  {args.per_block / elapsed:8.0f}", flush=True)
            acknowledged = client.status().chain_head.sequence
            wal = sum(os.path.getsize(os.path.join(data, "db", f)) for f in os.listdir(os.path.join(data, "db"))
                      if f.endswith(".log"))
            proc.kill()
            proc.wait()
            client.channel.close()
            proc, client, took = launch()
            s = client.status()
            print(f"killed (SIGKILL) with the chain at {acknowledged} and {wal / 2**20:.1f} MiB of RocksDB "
                  f"write-ahead log; served again after {took:.2f} s, chain head {s.chain_head.sequence}, "
                  f"{s.start_deltas_read} deltas read at start, RSS {rss_kib(proc.pid) / 1024:.1f} MiB")
            if s.chain_head.sequence < acknowledged:
                raise AssertionError(f"acknowledged deltas lost: head {s.chain_head.sequence} < {acknowledged}")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            log.close()
        # What the orders left on disk, for sizing a node's disk: the table files (the start
        # after the kill wrote the logs' contents into them) and everything under db/.
        db = os.path.join(data, "db")
        files = [os.path.join(db, f) for f in os.listdir(db)]
        tables = sum(os.path.getsize(f) for f in files if f.endswith(".sst"))
        total = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
        print(f"on disk after {n} orders ({acknowledged} deltas): table files {tables / 2**20:.1f} MiB "
              f"({tables / n:.0f} bytes an order, {tables / acknowledged:.0f} a delta), db/ {total / 2**20:.1f} MiB "
              f"with the write-ahead log")


if __name__ == "__main__":
    main()
