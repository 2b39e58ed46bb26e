// GraphOfContractsRegistry: which part of the node produces and consumes which data contract.
//
// Nodes are adapter kinds instantiated by configured venues ("venue SIM-A (sim)") and engines
// (the solver, the router, the store); edges are data contracts named with a semantic version
// ("marketdata.l2book/1.0"). A consumer of name/M.m is served by a producer of name/M.n with
// n >= m. Kinds and engines are registered by explicit calls into an instance
// (RegisterBuiltinContracts), never by static self-registration. Check() validates the graph for
// a set of venues at start-up and names the broken edge. Not thread-safe; built once at start.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace exo::adapters {

struct Contract {
  std::string name;
  int major = 1;
  int minor = 0;
  std::string ToString() const;  // "marketdata.l2book/1.0"
};

absl::StatusOr<Contract> ParseContract(const std::string& text);

struct ContractUse {
  Contract contract;
  bool required = true;  // A consumer that needs a producer (else: uses it if there is one).
};

struct ContractNode {
  std::string id;    // "venue SIM-A (sim)", "engine solver"
  std::string kind;  // "adapter" or "engine"
  std::vector<Contract> produces;
  std::vector<ContractUse> consumes;
};

struct ContractEdge {
  std::string producer, consumer;
  Contract produced, consumed;
};

struct ContractGraph {
  std::vector<ContractNode> nodes;
  std::vector<ContractEdge> edges;
};

class GraphOfContractsRegistry {
 public:
  // What every venue of adapter kind `kind` produces and consumes.
  absl::Status RegisterAdapterKind(const std::string& kind, std::vector<Contract> produces,
                                   std::vector<ContractUse> consumes);
  absl::Status RegisterEngine(const std::string& name, std::vector<Contract> produces,
                              std::vector<ContractUse> consumes);

  // The graph for these venues (venue id -> adapter kind), or FailedPrecondition naming the
  // first consumer whose contract no node produces compatibly.
  absl::StatusOr<ContractGraph> Build(const std::map<std::string, std::string>& venue_kinds) const;

 private:
  std::map<std::string, ContractNode> kinds_;
  std::vector<ContractNode> engines_;
};

// The built-in adapter kinds (sim, ws_feed) and engines (router, solver, store).
void RegisterBuiltinContracts(GraphOfContractsRegistry& registry);

}  // namespace exo::adapters
