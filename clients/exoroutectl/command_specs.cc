#include "clients/exoroutectl/command_specs.h"

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace exo::ctl {
namespace {

// Every command takes these: where the node is and how to reach it, the output's form, help,
// and (checked apart, per command) an offline data directory.
const std::vector<std::string>& GlobalFlags() {
  static const auto* flags = new std::vector<std::string>{
      "endpoint", "ca", "cert", "key", "insecure", "timeout", "reconnect-for", "json", "help", "data-dir"};
  return *flags;
}

struct Spec {
  std::string name;                // Its words: "plan cancel".
  size_t words;                    // At most this many words after them (ids, files, names).
  std::vector<std::string> flags;  // Its own flags, in the order --help shows them.
  std::string when;                // A variant: only with this flag given ("plan cancel --all").
};

// `parts` one after the other: a command's flags with the order's that route and solve share
// (context.h, SetOrderFlags) among them.
std::vector<std::string> Flags(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const std::vector<Spec>& Specs() {
  static const auto* specs = [] {
    const std::vector<std::string> order = {"allow", "deny", "max-venues", "urgency",
                                            "arrival-band-bps"};
    return new std::vector<Spec>{
        {"status", 0, {}, ""},
        {"budgets", 0, {}, ""},
        {"books", 1, {"depth"}, ""},
        {"route", 0,
         Flags({{"symbol", "side", "qty", "limit", "id", "tif", "expire-ms", "execute"},
                order,
                {"wait", "cancel-on-disconnect", "grace-ms"}}),
         ""},
        {"plan list", 0, {"symbol", "client"}, ""},
        {"plan show", 1, {}, ""},
        {"plan cancel", 1, {"reason"}, ""},
        {"plan cancel", 0, {"all", "symbol", "client", "reason"}, "all"},
        {"plan amend", 1, {"qty", "limit", "market", "urgency", "reason"}, ""},
        {"plan settle", 2, {"filled", "price", "fee", "reason"}, ""},
        {"plan books", 1, {"version", "out", "config-out"}, ""},
        {"watch", 1, {"from", "cancel-on-disconnect", "grace-ms"}, ""},
        {"route-status", 1, {"follow", "every"}, ""},
        {"replay", 0, {"from", "to", "plan", "progress", "follow"}, ""},
        {"report", 0, {"from", "to", "symbol", "since", "until", "client", "csv"}, ""},
        {"audit verify",
         0,
         {"from", "to", "recompute", "signed-head", "public-key", "progress", "follow"},
         ""},
        {"audit head", 0, {"out"}, ""},
        {"audit prove", 0, {"sequence", "from-size", "out"}, ""},
        {"audit check-proof", 1, {"public-key"}, ""},
        {"audit check-consistency", 1, {"kept", "public-key"}, ""},
        {"contracts", 0, {"dot"}, ""},
        {"halt", 0, {"reason", "venue", "symbol"}, ""},
        {"resume", 0, {"reason", "venue", "symbol"}, ""},
        {"backup", 1, {}, ""},
        {"config reload", 0, {"dry-run"}, ""},
        {"config show", 0, {"at"}, ""},
        {"solve", 0,
         Flags({{"books", "side", "qty", "symbol", "limit", "config", "method"}, order, {"at"}}),
         ""},
    };
  }();
  return *specs;
}

std::vector<std::string> NameWords(const Spec& s) { return absl::StrSplit(s.name, ' '); }

bool Listed(const std::vector<std::string>& list, const std::string& flag) {
  return std::find(list.begin(), list.end(), flag) != list.end();
}

// The spec `words` start with (the longest name; a variant whose flag is given before the plain
// one), or nullptr.
const Spec* Find(const std::vector<std::string>& words, const Args& args) {
  const Spec* best = nullptr;
  size_t best_len = 0;
  for (const Spec& s : Specs()) {
    const std::vector<std::string> name = NameWords(s);
    if (name.size() > words.size() || !std::equal(name.begin(), name.end(), words.begin()))
      continue;
    if (!s.when.empty() && !args.Has(s.when)) continue;
    if (best == nullptr || name.size() > best_len || (name.size() == best_len && !s.when.empty())) {
      best = &s;
      best_len = name.size();
    }
  }
  return best;
}

std::string Takes(const Spec& s) {
  if (s.flags.empty()) return "it takes no flags of its own";
  std::vector<std::string> dashed;
  for (const std::string& f : s.flags) dashed.push_back(absl::StrCat("--", f));
  return absl::StrCat("it takes ", absl::StrJoin(dashed, ", "));
}

}  // namespace

const std::set<std::string>& BooleanFlags() {
  static const auto* flags = new std::set<std::string>{
      "insecure", "json", "help",    "execute", "wait",   "recompute", "progress",
      "dot",      "all",  "dry-run", "csv",     "market", "follow",    "cancel-on-disconnect"};
  return *flags;
}

const std::set<std::string>& ValueFlags() {
  static const auto* flags = [] {
    auto* out = new std::set<std::string>(GlobalFlags().begin(), GlobalFlags().end());
    for (const Spec& s : Specs()) out->insert(s.flags.begin(), s.flags.end());
    for (const std::string& b : BooleanFlags()) out->erase(b);
    return out;
  }();
  return *flags;
}

const std::set<std::string>& ListFlags() {
  static const auto* flags = new std::set<std::string>{"allow", "deny"};
  return *flags;
}

absl::Status CheckCommandLine(const Args& args) {
  const Spec* spec = Find(args.words(), args);
  if (spec == nullptr) return absl::OkStatus();
  const std::string name =
      spec->when.empty() ? spec->name : absl::StrCat(spec->name, " --", spec->when);
  const size_t given = args.words().size() - NameWords(*spec).size();
  if (given > spec->words) {
    const std::string& extra = args.words()[args.words().size() - given + spec->words];
    return absl::InvalidArgumentError(
        spec->words == 0
            ? absl::StrCat(name, ": unexpected argument \"", extra, "\" (", Takes(*spec), ")")
            : absl::StrCat(name, ": unexpected argument \"", extra, "\" (at most ", spec->words,
                           spec->words == 1 ? " argument" : " arguments", "; ", Takes(*spec), ")"));
  }
  for (const std::string& flag : args.flags()) {
    if (Listed(spec->flags, flag) || Listed(GlobalFlags(), flag)) continue;
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": --", flag, " is not one of its flags (", Takes(*spec), ")"));
  }
  return absl::OkStatus();
}

}  // namespace exo::ctl
