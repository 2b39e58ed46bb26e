#include "adapters/registry/contract_registry.h"

#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace exo::adapters {

std::string Contract::ToString() const { return absl::StrCat(name, "/", major, ".", minor); }

absl::StatusOr<Contract> ParseContract(const std::string& text) {
  static const std::regex kContract(R"(([a-z0-9_.]+)/(\d+)\.(\d+))");
  std::smatch m;
  if (!std::regex_match(text, m, kContract)) {
    return absl::InvalidArgumentError(absl::StrCat("contract \"", text, "\": expected name/MAJOR.MINOR"));
  }
  Contract c;
  c.name = m[1];
  if (!absl::SimpleAtoi(std::string(m[2]), &c.major) || !absl::SimpleAtoi(std::string(m[3]), &c.minor)) {
    return absl::InvalidArgumentError(absl::StrCat("contract \"", text, "\": bad version"));
  }
  return c;
}

absl::Status GraphOfContractsRegistry::RegisterAdapterKind(const std::string& kind,
                                                           std::vector<Contract> produces,
                                                           std::vector<ContractUse> consumes) {
  if (kinds_.count(kind)) return absl::AlreadyExistsError(absl::StrCat("adapter kind ", kind, " registered twice"));
  kinds_[kind] = ContractNode{kind, "adapter", std::move(produces), std::move(consumes)};
  return absl::OkStatus();
}

absl::Status GraphOfContractsRegistry::RegisterEngine(const std::string& name,
                                                      std::vector<Contract> produces,
                                                      std::vector<ContractUse> consumes) {
  for (const auto& e : engines_) {
    if (e.id == "engine " + name) return absl::AlreadyExistsError(absl::StrCat("engine ", name, " registered twice"));
  }
  engines_.push_back({"engine " + name, "engine", std::move(produces), std::move(consumes)});
  return absl::OkStatus();
}

absl::StatusOr<ContractGraph> GraphOfContractsRegistry::Build(
    const std::map<std::string, std::string>& venue_kinds) const {
  ContractGraph g;
  for (const auto& [venue, kind] : venue_kinds) {
    auto it = kinds_.find(kind);
    if (it == kinds_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("venue ", venue, ": adapter kind \"", kind, "\" is not registered"));
    }
    ContractNode n = it->second;
    n.id = absl::StrCat("venue ", venue, " (", kind, ")");
    g.nodes.push_back(std::move(n));
  }
  for (const auto& e : engines_) g.nodes.push_back(e);
  for (const ContractNode& consumer : g.nodes) {
    for (const ContractUse& use : consumer.consumes) {
      bool served = false;
      std::string incompatible;
      for (const ContractNode& producer : g.nodes) {
        if (&producer == &consumer) continue;
        for (const Contract& p : producer.produces) {
          if (p.name != use.contract.name) continue;
          if (p.major == use.contract.major && p.minor >= use.contract.minor) {
            g.edges.push_back({producer.id, consumer.id, p, use.contract});
            served = true;
          } else if (incompatible.empty()) {
            incompatible = absl::StrCat(" (", producer.id, " produces ", p.ToString(), ", not compatible)");
          }
        }
      }
      if (!served && use.required) {
        return absl::FailedPreconditionError(absl::StrCat(
            "contract graph broken: ", consumer.id, " consumes ", use.contract.ToString(),
            " but nothing produces it", incompatible));
      }
    }
  }
  return g;
}

void RegisterBuiltinContracts(GraphOfContractsRegistry& r) {
  const Contract book{"marketdata.l2book", 1, 0}, child{"order.child", 1, 0},
      report{"execution.report", 1, 0}, plan{"routing.decision", 1, 0}, delta{"plan.delta", 1, 0};
  // Registration of distinct names cannot fail.
  (void)r.RegisterAdapterKind("sim", {book, report}, {{child, true}});
  (void)r.RegisterAdapterKind("ws_feed", {book}, {});
  // FIX order entry; its books come from another venue (book_from).
  (void)r.RegisterAdapterKind("fix", {report}, {{child, true}});
  (void)r.RegisterEngine("solver", {plan}, {{book, true}});
  (void)r.RegisterEngine("router", {child, delta}, {{plan, true}, {report, false}});
  (void)r.RegisterEngine("store", {}, {{delta, true}});
}

}  // namespace exo::adapters
