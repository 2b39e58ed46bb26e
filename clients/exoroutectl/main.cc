// exoroutectl: the operator CLI for exorouted — status, route, plans, watch, replay and audit,
// online over gRPC/TLS or offline on a data directory. `exoroutectl --help` lists it all; each
// command is in commands.h.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/exoroutectl/args.h"
#include "clients/exoroutectl/command_specs.h"
#include "clients/exoroutectl/commands.h"
#include "clients/exoroutectl/context.h"
#include "exo/openssl_exit.h"

namespace exo::ctl {
namespace {

constexpr char kHelp[] = R"(exoroutectl — operate an exorouted node

usage: exoroutectl [connection flags] COMMAND [flags]

commands:
  status                                node, venues, chain head, store
  budgets                               privacy budgets spent in the current window (cluster)
  books SYMBOL [--depth N]              the node's books of SYMBOL now, N levels a side (5;
                                        at most 50), as an order decided now reads them: the
                                        best bid and ask it would use, and why a buy or a
                                        sell would leave each venue out (stale, crossed…)
  route --symbol S --side buy|sell --qty Q [--limit P] [--id ID]
        [--tif gtc|ioc|gtt] [--expire-ms N] [--execute] [--allow A,B] [--deny C]
        [--max-venues N] [--urgency low|normal|high] [--arrival-band-bps N] [--wait]
        [--cancel-on-disconnect [--grace-ms N]]
                                        plan (and with --execute, trade) a parent order;
                                        Q and P are decimals ("1.5", "65000.25"); --urgency
                                        low takes only what lies within a band of the best
                                        price now and works the rest as the books refill;
                                        --arrival-band-bps N never walks past the mid at
                                        arrival ± N bp, however the books move later;
                                        --execute --wait --cancel-on-disconnect: leaving the
                                        wait (Ctrl-C) cancels the order (see watch)
  plan list [--symbol S] [--client NAME]
                                        the plans the node is working (not settled), by id
                                        (only those client NAME sent)
  plan show ID                          a plan's current state
  plan cancel ID [--reason TEXT]        cancel a working plan
  plan cancel --all [--symbol S] [--client NAME] [--reason TEXT]
                                        cancel every plan the node is working (of S, sent by
                                        client NAME): exit 1 if any could not be cancelled
  plan amend ID [--qty Q] [--limit P | --market] [--urgency U] [--reason TEXT]
                                        amend a working executed plan's order: Q is its new
                                        whole quantity (what has filled counts), P its new
                                        limit (--market: none; an arrival band still binds),
                                        U its new urgency; the rest is decided on them at once
                                        (children already at venues keep their terms)
  plan settle ID CHILD --filled Q [--price P [--fee F]] --reason TEXT
                                        end an open child its venue never reported the end
                                        of, as reconciled with the venue: Q its whole filled
                                        quantity (what the plan recorded counts), P the
                                        average price and F the fee of what it did not
                                        record; the plan works the rest again at once (halt
                                        the venue first to keep it out); recorded
  plan books ID [--version N|last] [--out FILE [--config-out FILE]]
                                        the books a decision of the plan read (the first, the
                                        one at version N, or the latest) as a book file for
                                        `solve` (and a config with its venue terms), and the
                                        command that re-runs it (also with --data-dir)
  watch ID [--from VERSION] [--cancel-on-disconnect [--grace-ms N]]
                                        stream a plan's deltas until it settles, riding out
                                        a restart of the node (it watches again as soon as
                                        the node answers, for up to 5 min; so does route
                                        --wait); with --cancel-on-disconnect the node cancels
                                        the plan if this watch ends first (Ctrl-C, a lost
                                        connection) and none comes back within N ms (0 by
                                        default); recorded, so it outlives a restart too
  route-status ID [--follow [--every MS]]
                                        a route's progress on every node that took a share
                                        (a cluster route; on one node: its plan); --follow:
                                        a line at each change until it settles (the nodes
                                        asked every MS ms, 200 by default), then the table;
                                        it rides out a restart of the node it asks, as watch
  replay [--from N] [--to M | --plan ID] [--progress]
                                        stored deltas in sequence order
  replay --follow [--from N]            the same, then each delta as it is recorded, until
                                        Ctrl-C (a live tail of the chain; a restart of the
                                        node is a pause: see --reconnect-for)
  report [--from N] [--to M] [--symbol S] [--since T] [--until T] [--client NAME] [--csv]
                                        the executed plans created in the range (T: RFC 3339
                                        or a UTC date, when the order arrived; NAME: the client
                                        that sent them): filled, average price, slippage against
                                        the mid at arrival, fees, where they filled; totals per
                                        symbol and side (and per client), and per venue (also
                                        with --data-dir, offline)
  audit verify [--from N] [--to M] [--recompute] [--signed-head FILE [--public-key HEX]]
                                        check the hash chain (and re-solve decisions; and
                                        that it still has a head the node signed earlier)
  audit verify --follow [--from N]      check the node's chain link by link as it sends it,
                                        then each delta as it is recorded: a line each time
                                        it has caught up with the head; exit 3 at the first
                                        delta that does not check out (a restarted node's
                                        chain must extend the one checked before)
  audit head [--out FILE]               the chain head (--out: the node's signed head, JSON,
                                        for an auditor to keep)
  audit prove --sequence N [--out FILE] proof that delta N is in the node's log (RFC 9162
                                        Merkle tree, signed tree head; JSON with --out)
  audit check-proof FILE [--public-key HEX]
                                        check a proof offline, without the log
  audit prove --from-size M [--out FILE]
                                        proof that the log's first M deltas are unchanged in
                                        it now (RFC 9162 consistency, signed new tree head)
  audit check-consistency FILE --kept OLD [--public-key HEX]
                                        check it offline against a tree head kept earlier
                                        (OLD: a proof file from an earlier `audit prove`)
  contracts [--dot]                     the Graph of Contracts (table, --json, or Graphviz)
  halt --reason TEXT [--venue V | --symbol S]
                                        stop trading on the node: no child order is sent, EXECUTE
                                        routes are refused; with --venue, at that venue only
                                        (executed plans decide without it); with --symbol, for
                                        that symbol's orders only; recorded in the chain, kept
                                        across restarts (open children stay open: plan cancel
                                        --all [--symbol S])
  resume --reason TEXT [--venue V | --symbol S]
                                        trade again (at that venue, in that symbol)
  backup NAME                           a consistent copy of the node's database and keys,
                                        made while it routes, in store.backup_dir/NAME
                                        (a data directory; check it with audit verify
                                        --data-dir)
  config reload [--dry-run]             read the node's config file again and apply what a
                                        running node can change (risk limits, urgency bands,
                                        solver method, re-plan and checkpoint intervals,
                                        venues' fees, impact, book age), recorded in the chain;
                                        anything else changed refuses it all (restart);
                                        --dry-run says what would change (exorouted: SIGHUP)
  config show [--at N]                  the config in force now, or when delta N was recorded,
                                        from the chain: a config file's JSON (also with
                                        --data-dir, offline)
  solve --books FILE --side buy|sell --qty Q [--symbol S] [--limit P] [--config FILE]
        [--method exact|admm] [--allow A,B] [--deny C] [--max-venues N] [--urgency U]
        [--arrival-band-bps N] [--at NS]
                                        what-if, offline: the plan the router would make on the
                                        books in FILE (docs/configuration.md has the format),
                                        with venue fees, lots, caps and method from the daemon
                                        config (default: the embedded one); --method overrides;
                                        the order's flags and checks are route's

output:      --json (JSON lines / objects instead of tables)
connection:  --endpoint HOST:PORT  (default: $EXOROUTE_ENDPOINT, ./exoroute-data/endpoint,
                                    or 127.0.0.1:50551)
             --ca FILE             (default: $EXOROUTE_CA or ./exoroute-data/certs/ca.pem)
             --cert FILE --key FILE  client certificate for mutual TLS
             --insecure            plaintext
             --timeout MS          connect/RPC deadline (default 5000)
             --reconnect-for S     how long watch, route --wait and the --follow commands
                                   wait for a node that went away (a restart) to answer
                                   again, then go on from where they were (default 300;
                                   0: they end with the node, exit 1)
offline:     --data-dir DIR        replay, report, audit, plan books and config show read
                                   DIR's database directly (read-only; works while the
                                   daemon runs)
flags:       each given once, but --allow and --deny (lists: A,B), which add up when repeated
exit codes:  0 ok, 1 error, 2 usage, 3 the chain or a decision does not verify
)";

std::string DefaultEndpoint() {
  if (const char* e = std::getenv("EXOROUTE_ENDPOINT")) return e;
  std::ifstream in("./exoroute-data/endpoint");
  std::string line;
  if (in && std::getline(in, line) && !line.empty()) return line;
  return "127.0.0.1:50551";
}

int Main(int argc, char** argv) {
  // gRPC's own error lines (a TLS handshake that fails, once per attempt) end the error that
  // names the node it could not reach, instead of being printed raw.
  client::KeepGrpcErrors();
  auto parsed = Args::Parse(argc, argv, ValueFlags(), BooleanFlags(), ListFlags());
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  Context c;
  c.args = *std::move(parsed);
  const auto& w = c.args.words();
  if (c.args.Has("help") || w.empty() || w[0] == "help") {
    std::fputs(kHelp, w.empty() && !c.args.Has("help") ? stderr : stdout);
    return w.empty() && !c.args.Has("help") ? kExitUsage : kExitOk;
  }
  c.json = c.args.Has("json");
  c.conn.endpoint = c.args.Get("endpoint", DefaultEndpoint());
  const char* env_ca = std::getenv("EXOROUTE_CA");
  c.conn.ca_file = c.args.Get("ca", env_ca ? env_ca : "./exoroute-data/certs/ca.pem");
  c.conn.cert_file = c.args.Get("cert");
  c.conn.key_file = c.args.Get("key");
  c.conn.insecure = c.args.Has("insecure");
  auto timeout = c.args.GetUint("timeout", 5000);
  if (!timeout.ok()) return Usage(std::string(timeout.status().message()));
  if (*timeout == 0) return Usage("--timeout: must be at least 1 ms, got 0 (every call would fail at once)");
  c.timeout = std::chrono::milliseconds(*timeout);
  c.conn.connect_timeout = c.timeout;
  auto reconnect = c.args.GetUint("reconnect-for", 300);
  if (!reconnect.ok()) return Usage(std::string(reconnect.status().message()));
  if (*reconnect > 86'400) return Usage(absl::StrCat("--reconnect-for: at most 86400 (s), got ", *reconnect));
  c.reconnect_for = absl::Seconds(static_cast<int64_t>(*reconnect));

  const std::string& cmd = w[0];
  if (cmd == "solve") return CmdSolve(c);
  const bool offline_ok = cmd == "replay" || cmd == "audit" || cmd == "report" ||
                          (cmd == "plan" && w.size() > 1 && w[1] == "books") ||
                          (cmd == "config" && w.size() > 1 && w[1] == "show");
  if (c.args.Has("data-dir") && !offline_ok) {
    return Usage(absl::StrCat("--data-dir works with replay, report, audit, plan books and config show, not ", cmd));
  }
  if (absl::Status s = CheckCommandLine(c.args); !s.ok()) return Usage(std::string(s.message()));
  if (cmd == "status") return CmdStatus(c);
  if (cmd == "budgets") return CmdBudgets(c);
  if (cmd == "books") return CmdBooks(c);
  if (cmd == "route") return CmdRoute(c);
  if (cmd == "plan") return CmdPlan(c);
  if (cmd == "watch") return CmdWatch(c);
  if (cmd == "route-status") return CmdRouteStatus(c);
  if (cmd == "replay") return CmdReplay(c);
  if (cmd == "report") return CmdReport(c);
  if (cmd == "audit") return CmdAudit(c);
  if (cmd == "contracts") return CmdContracts(c);
  if (cmd == "backup") return CmdBackup(c);
  if (cmd == "config") return CmdConfig(c);
  if (cmd == "halt" || cmd == "resume") return CmdSetTrading(c, cmd == "halt");
  return Usage(absl::StrCat("unknown command \"", cmd, "\""));
}

}  // namespace
}  // namespace exo::ctl

#if defined(__SANITIZE_ADDRESS__)
// Sanitizer builds (./test.sh --sanitize) only. gRPC's executor threads clear OpenSSL's error
// queue (ERR_clear_error), which gives each thread its own error state; one still running when
// this short-lived process exits keeps it, and LeakSanitizer called that a leak now and then
// (904 bytes, OpenSSL 3's ERR_STATE; caught once with a full stack: ERR_clear_error <- libgrpc <-
// grpc_core::Executor::ThreadMain). Full stacks (slow unwinding: cheap for a CLI) let exactly
// that allocation be named and left out; any other leak is still reported.
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }
extern "C" const char* __lsan_default_suppressions() { return "leak:ERR_clear_error\n"; }
// A suppression used is not reported on stderr either (LeakSanitizer's "Suppressions used"
// table): the CLI's stderr is what a user, and a test, reads.
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }
#endif

int main(int argc, char** argv) {
  exo::KeepOpenSslUntilExit();  // Before anything uses OpenSSL (exo/openssl_exit.h).
  return exo::ctl::Main(argc, argv);
}
