// exoroutectl's command line: a word or a flag the command does not take is refused before
// anything runs, naming it and what the command takes; what --help shows is accepted.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "clients/exoroutectl/args.h"
#include "clients/exoroutectl/command_specs.h"

namespace {

using exo::ctl::Args;
using exo::ctl::CheckCommandLine;

// The command line `words` (without the program's name) checked as exoroutectl checks it:
// "" when accepted, else the message.
std::string Check(std::vector<std::string> words) {
  words.insert(words.begin(), "exoroutectl");
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  absl::StatusOr<Args> args = Args::Parse(static_cast<int>(argv.size()), argv.data(), exo::ctl::ValueFlags(),
                                          exo::ctl::BooleanFlags(), exo::ctl::ListFlags());
  if (!args.ok()) return std::string(args.status().message());
  const absl::Status s = CheckCommandLine(*args);
  return s.ok() ? "" : std::string(s.message());
}

}  // namespace

TEST_CASE("a flag another command takes is refused, naming what the command takes") {
  // The reason for it all: this cancelled every plan, not the venue's.
  CHECK(Check({"plan", "cancel", "--all", "--venue", "N1-V0", "--reason", "r"}) ==
        "plan cancel --all: --venue is not one of its flags (it takes --all, --symbol, --client, --reason)");
  CHECK(Check({"status", "--qty", "5"}) == "status: --qty is not one of its flags (it takes no flags of its own)");
  CHECK(Check({"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--plan", "p"}) ==
        "route: --plan is not one of its flags (it takes --symbol, --side, --qty, --limit, --id, --tif, --expire-ms, "
        "--execute, --allow, --deny, --max-venues, --urgency, --arrival-band-bps, --wait, --cancel-on-disconnect, "
        "--grace-ms)");
  CHECK(Check({"plan", "cancel", "p1", "--symbol", "BTC-USD"}) ==
        "plan cancel: --symbol is not one of its flags (it takes --reason)");
  CHECK(Check({"audit", "head", "--recompute"}) == "audit head: --recompute is not one of its flags (it takes --out)");
  // A flag no command takes is refused as before, by the parser.
  CHECK(Check({"status", "--qyt", "5"}) == "unknown flag --qyt (see --help)");
}

TEST_CASE("a word the command does not take is refused, naming it") {
  CHECK(Check({"replay", "demo-9"}) ==
        "replay: unexpected argument \"demo-9\" (it takes --from, --to, --plan, --progress, --follow)");
  CHECK(Check({"plan", "show", "p1", "p2"}) ==
        "plan show: unexpected argument \"p2\" (at most 1 argument; it takes no flags of its own)");
  CHECK(Check({"plan", "settle", "p1", "c1", "c2", "--filled", "1", "--reason", "r"}) ==
        "plan settle: unexpected argument \"c2\" (at most 2 arguments; it takes --filled, --price, --fee, --reason)");
  CHECK(Check({"plan", "cancel", "p1", "--all", "--reason", "r"}) ==
        "plan cancel --all: unexpected argument \"p1\" (it takes --all, --symbol, --client, --reason)");
  CHECK(Check({"status", "foo"}) == "status: unexpected argument \"foo\" (it takes no flags of its own)");
}

TEST_CASE("the command lines --help shows are accepted") {
  const std::vector<std::vector<std::string>> accepted = {
      {"status", "--json"},
      {"--endpoint", "127.0.0.1:50551", "--ca", "ca.pem", "--timeout", "100", "budgets"},
      {"books", "BTC-USD", "--depth", "10"},
      {"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1.5", "--limit", "65000", "--id", "a", "--tif", "gtt",
       "--expire-ms", "100", "--execute", "--allow", "A,B", "--deny", "C", "--max-venues", "2", "--urgency", "low",
       "--arrival-band-bps", "5", "--wait", "--cancel-on-disconnect", "--grace-ms", "100"},
      {"plan", "list", "--symbol", "BTC-USD", "--client", "desk"},
      {"plan", "show", "p1"},
      {"plan", "cancel", "p1", "--reason", "r"},
      {"plan", "cancel", "--all", "--symbol", "BTC-USD", "--client", "desk", "--reason", "r"},
      {"plan", "amend", "p1", "--qty", "2", "--market", "--urgency", "high", "--reason", "r"},
      {"plan", "settle", "p1", "c1", "--filled", "1", "--price", "2", "--fee", "0.1", "--reason", "r"},
      {"plan", "books", "p1", "--version", "last", "--out", "f", "--config-out", "g", "--data-dir", "d"},
      {"watch", "p1", "--from", "3", "--cancel-on-disconnect", "--grace-ms", "5"},
      {"route-status", "r1", "--follow", "--every", "100"},
      {"replay", "--from", "1", "--to", "9", "--progress"},
      {"replay", "--plan", "p1", "--data-dir", "d"},
      {"replay", "--follow", "--from", "5"},
      {"report", "--from", "1", "--to", "2", "--symbol", "S", "--since", "2026-12-01", "--until", "2026-12-02",
       "--client", "c", "--csv"},
      {"audit", "verify", "--from", "1", "--to", "2", "--recompute", "--signed-head", "h.json", "--public-key", "ab"},
      {"audit", "verify", "--follow", "--from", "3"},
      {"audit", "head", "--out", "h.json"},
      {"audit", "prove", "--sequence", "3", "--out", "p.json"},
      {"audit", "prove", "--from-size", "3"},
      {"audit", "check-proof", "p.json", "--public-key", "ab"},
      {"audit", "check-consistency", "p.json", "--kept", "old.json"},
      {"contracts", "--dot"},
      {"halt", "--reason", "r", "--venue", "V"},
      {"resume", "--reason", "r", "--symbol", "S"},
      {"backup", "nightly"},
      {"config", "reload", "--dry-run"},
      {"config", "show", "--at", "5"},
      {"solve", "--books", "b.json", "--side", "sell", "--qty", "1", "--symbol", "S", "--limit", "5", "--config", "c",
       "--method", "admm", "--allow", "A", "--deny", "B", "--max-venues", "1", "--urgency", "low",
       "--arrival-band-bps", "3", "--at", "9"},
      // A command that is not one is left to the dispatch, which names it unknown.
      {"verify", "--from", "1"},
  };
  for (const auto& words : accepted) {
    INFO(words[0] << " " << (words.size() > 1 ? words[1] : ""));
    CHECK(Check(words).empty());
  }
}

TEST_CASE("a list flag given twice adds up, any other flag given twice is refused") {
  // The reason: `--deny A --deny B --deny C` kept only C, and the order was routed to A and B.
  std::vector<std::string> words = {"exoroutectl", "route", "--deny", "SIM-A", "--deny=SIM-B,SIM-C", "--allow",
                                    "SIM-D",       "--deny", "",      "--allow", "SIM-E", "--execute", "--execute"};
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  absl::StatusOr<Args> args = Args::Parse(static_cast<int>(argv.size()), argv.data(), exo::ctl::ValueFlags(),
                                          exo::ctl::BooleanFlags(), exo::ctl::ListFlags());
  REQUIRE(args.ok());
  CHECK(args->Get("deny") == "SIM-A,SIM-B,SIM-C,");
  CHECK(args->Get("allow") == "SIM-D,SIM-E");
  CHECK(args->Has("execute"));  // A switch given twice is still one switch.

  CHECK(Check({"route", "--symbol", "BTC-USD", "--side", "buy", "--qty", "1", "--qty", "2"}) ==
        "--qty given twice (\"1\", then \"2\"): give it once");
  CHECK(Check({"route", "--symbol", "BTC-USD", "--symbol=ETH-USD", "--side", "buy", "--qty", "1"}) ==
        "--symbol given twice (\"BTC-USD\", then \"ETH-USD\"): give it once");
  CHECK(Check({"plan", "cancel", "p1", "--reason", "r", "--reason", "r"}) ==
        "--reason given twice (\"r\", then \"r\"): give it once");
  CHECK(Check({"--timeout", "100", "status", "--timeout", "200"}) ==
        "--timeout given twice (\"100\", then \"200\"): give it once");
}
