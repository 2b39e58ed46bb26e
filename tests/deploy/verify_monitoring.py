#!/usr/bin/python3
"""deploy/prometheus/exoroute-alerts.yml and deploy/grafana/exoroute-dashboard.json are usable as
they ship: the rules parse as YAML in Prometheus's rule-file shape and every rule is complete (a
name, an expression, a severity, a summary and a description); the dashboard parses as Grafana's
JSON model, every panel has a title, a place and queries; and every exoroute metric a rule or a
panel reads is one a running node exports — checked
against the /metrics of a real exorouted started as a cluster node with privacy budgets and a
risk limit, after one route (a node's every metric family: a single node's, the peer port's and the cluster's)."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

SEVERITIES = {"page", "ticket", "info"}
METRIC = re.compile(r"\b((?:exoroute|process)_[a-zA-Z0-9_]+)")
DURATION = re.compile(r"^[0-9]+[smhd]$")


def fail(what):
    print("FAIL:", what)
    sys.exit(1)


def rule_problems(doc):
    """What is wrong with the rule file's shape, one line each; and its rules."""
    problems, rules = [], []
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not groups:
        return ["no `groups`"], []
    names = set()
    for g in groups:
        if not g.get("name"):
            problems.append("a group without a name")
        for r in g.get("rules") or []:
            name = r.get("alert", "")
            rules.append(r)
            if not re.fullmatch(r"Exoroute[A-Z][A-Za-z]+", name):
                problems.append(f"rule {name!r}: alert names are Exoroute<CamelCase>")
            if name in names:
                problems.append(f"rule {name}: defined twice")
            names.add(name)
            expr = r.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"rule {name}: no expr")
            elif expr.count("(") != expr.count(")") or expr.count("[") != expr.count("]") or \
                    expr.count("{") != expr.count("}"):
                problems.append(f"rule {name}: unbalanced brackets in {expr!r}")
            if "for" in r and not DURATION.match(str(r["for"])):
                problems.append(f"rule {name}: `for: {r['for']}` is not a duration")
            if (r.get("labels") or {}).get("severity") not in SEVERITIES:
                problems.append(f"rule {name}: labels.severity must be one of {sorted(SEVERITIES)}")
            for key in ("summary", "description"):
                if not (r.get("annotations") or {}).get(key):
                    problems.append(f"rule {name}: no annotations.{key}")
    if not rules:
        problems.append("no rules")
    return problems, rules


def dashboard_problems(doc):
    """What is wrong with the dashboard's shape, one line each; and its queries as (where, expr)."""
    problems, queries = [], []
    if not isinstance(doc, dict) or not doc.get("title") or not doc.get("uid"):
        return ["no title or uid"], []
    if [i.get("name") for i in doc.get("__inputs", [])] != ["DS_PROMETHEUS"]:
        problems.append("__inputs: one Prometheus data source, DS_PROMETHEUS, chosen at import")
    for v in (doc.get("templating") or {}).get("list", []):
        queries.append((f"variable {v.get('name')}", v.get("query", "")))
    ids = set()
    for p in doc.get("panels") or []:
        title = p.get("title", "")
        if not title:
            problems.append(f"panel {p.get('id')}: no title")
        if p.get("id") in ids:
            problems.append(f"panel {title!r}: id {p.get('id')} used twice")
        ids.add(p.get("id"))
        if set((p.get("gridPos") or {}).keys()) != {"x", "y", "w", "h"}:
            problems.append(f"panel {title!r}: gridPos needs x, y, w, h")
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"panel {title!r}: no queries")
        if len({t.get("refId") for t in targets}) != len(targets):
            problems.append(f"panel {title!r}: refIds not unique")
        for t in targets:
            expr = t.get("expr", "")
            if not expr or expr.count("(") != expr.count(")") or expr.count("{") != expr.count("}"):
                problems.append(f"panel {title!r}: query {t.get('refId')} empty or unbalanced: {expr!r}")
            queries.append((f"panel {title!r}", expr))
    if not ids:
        problems.append("no panels")
    return problems, queries


def unknown_metrics(queries, families):
    """(where, metric) for each metric a query reads that `families` (name -> type) lacks."""
    out = []
    for where, expr in queries:
        for m in METRIC.findall(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", m)
            if m in families or (base != m and families.get(base) == "histogram"):
                continue
            out.append((where, m))
    return out


def metric_families(text):
    families = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            families[name] = kind
    return families


def start_cluster_node(exorouted, root, tmp):
    certs = os.path.join(tmp, "certs")
    subprocess.run([os.path.join(root, "deploy", "gen-certs.sh"), certs, "n1", "n2"], check=True,
                   stdout=subprocess.DEVNULL)
    cfg = json.loads(subprocess.run([exorouted, "--print-default-config"], check=True, capture_output=True,
                                    text=True).stdout)
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    cfg["node_id"] = "n1"
    cfg["data_dir"] = data
    cfg["listen"]["address"] = "127.0.0.1:0"
    cfg["admin"]["listen"] = "127.0.0.1:0"
    cfg["risk"] = [{"symbol": "BTC-USD", "max_working_quantity": 10 ** 12}]  # The risk families.
    cfg["cluster"] = {
        "listen": "127.0.0.1:0",
        "ca_file": os.path.join(certs, "ca.pem"),
        "cert_file": os.path.join(certs, "n1.pem"),
        "key_file": os.path.join(certs, "n1.key"),
        # A peer that is not running: the node still exports every peer metric for it.
        "peers": [{"node_id": "n2", "address": "127.0.0.1:9"}],
        "privacy": {"epsilon_milli": 1000, "sensitivity": 100000, "budget_milli": 100000000},
    }
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(tmp, "exorouted.log"), "w")
    proc = subprocess.Popen([exorouted, "--config", os.path.join(tmp, "config.json")],
                            stdout=subprocess.DEVNULL, stderr=log)
    admin_file = os.path.join(data, "admin_endpoint")
    deadline = time.time() + 30
    while not (os.path.exists(admin_file) and os.path.getsize(admin_file) > 0):
        if proc.poll() is not None:
            fail("exorouted exited during start-up: " + open(os.path.join(tmp, "exorouted.log")).read()[-2000:])
        if time.time() > deadline:
            proc.kill()
            fail("exorouted not ready in 30 s")
        time.sleep(0.02)
    return proc, open(admin_file).read().strip()


def route_once(exoroutectl, tmp):
    """One plan-only route through the node: it spends privacy budget (the peer is down and
    dropped), so the budget families appear."""
    data = os.path.join(tmp, "data")
    r = subprocess.run([exoroutectl, "--endpoint", open(os.path.join(data, "endpoint")).read().strip(),
                        "--ca", os.path.join(data, "certs", "ca.pem"), "route", "--symbol", "BTC-USD",
                        "--side", "buy", "--qty", "1", "--id", "alerts-1"], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        fail(f"exoroutectl route: {r.stdout}{r.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exorouted", required=True)
    ap.add_argument("--exoroutectl", required=True)
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    path = os.path.join(args.root, "deploy", "prometheus", "exoroute-alerts.yml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    problems, rules = rule_problems(doc)
    if problems:
        fail(f"{path}:\n  " + "\n  ".join(problems))
    queries = [(f"rule {r['alert']}", r["expr"]) for r in rules]
    dashboard = os.path.join(args.root, "deploy", "grafana", "exoroute-dashboard.json")
    with open(dashboard) as f:
        problems, panel_queries = dashboard_problems(json.load(f))
    if problems:
        fail(f"{dashboard}:\n  " + "\n  ".join(problems))
    queries += panel_queries

    # The checks find what they are for (a check that cannot fail checks nothing).
    bad, _ = rule_problems({"groups": [{"name": "g", "rules": [
        {"alert": "ExorouteBroken", "expr": "rate(exoroute_a[5m]", "for": "soon", "labels": {}}]}]})
    if len(bad) != 5:
        fail(f"the shape check missed a broken rule: {bad}")
    if unknown_metrics([("rule ExorouteX", "exoroute_no_such_metric > 0")],
                       {"exoroute_uptime_seconds": "gauge"}) != [("rule ExorouteX", "exoroute_no_such_metric")]:
        fail("the metric check missed an unknown metric")
    bad, _ = dashboard_problems({"title": "t", "uid": "u", "__inputs": [{"name": "DS_PROMETHEUS"}], "panels": [
        {"id": 1, "title": "", "gridPos": {"x": 0}, "targets": [{"refId": "A", "expr": "rate(x[5m]"}]}]})
    if len(bad) != 3:
        fail(f"the dashboard check missed a broken panel: {bad}")

    with tempfile.TemporaryDirectory(prefix="exo-alerts-") as tmp:
        proc, admin = start_cluster_node(args.exorouted, args.root, tmp)
        try:
            route_once(args.exoroutectl, tmp)
            text = urllib.request.urlopen(f"http://{admin}/metrics", timeout=10).read().decode()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    families = metric_families(text)
    if "exoroute_peer_call_seconds" not in families or "exoroute_privacy_budget_limit_epsilon" not in families:
        fail("the cluster node's /metrics lacks the cluster families: " + ", ".join(sorted(families)))
    missing = unknown_metrics(queries, families)
    if missing:
        fail("queries read metrics no node exports: " + ", ".join(f"{w}: {m}" for w, m in missing))
    read = sorted({m for _, e in queries for m in METRIC.findall(e)})
    print(f"ok: {len(rules)} rules, {len(panel_queries)} dashboard queries, {len(read)} metrics read, "
          "all exported by a running node")


if __name__ == "__main__":
    main()
