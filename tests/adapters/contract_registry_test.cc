#include "adapters/registry/contract_registry.h"

#include <catch2/catch.hpp>

using namespace exo::adapters;  // NOLINT

namespace {

Contract C(const std::string& s) { return *ParseContract(s); }

}  // namespace

TEST_CASE("the built-in graph connects every configured venue", "[contracts]") {
  GraphOfContractsRegistry r;
  RegisterBuiltinContracts(r);
  auto g = r.Build({{"A", "sim"}, {"F", "ws_feed"}});
  REQUIRE(g.ok());
  CHECK(g->nodes.size() == 5);
  int books_to_solver = 0;
  for (const auto& e : g->edges) {
    if (e.consumer == "engine solver" && e.produced.name == "marketdata.l2book") ++books_to_solver;
  }
  CHECK(books_to_solver == 2);
  // A market-data-only node still starts: the router's use of execution reports is optional.
  CHECK(r.Build({{"F", "ws_feed"}}).ok());
}

TEST_CASE("a broken graph is refused naming the edge", "[contracts]") {
  GraphOfContractsRegistry r;
  RegisterBuiltinContracts(r);
  // No venue at all: the solver has no books.
  CHECK(r.Build({}).status().message() ==
        "contract graph broken: engine solver consumes marketdata.l2book/1.0 but nothing produces it");
  CHECK(r.Build({{"X", "pigeon"}}).status().message() == "venue X: adapter kind \"pigeon\" is not registered");
  // A venue kind that produces a newer major version is not compatible.
  GraphOfContractsRegistry v2;
  REQUIRE(v2.RegisterAdapterKind("feed2", {C("marketdata.l2book/2.0")}, {}).ok());
  REQUIRE(v2.RegisterEngine("solver", {}, {{C("marketdata.l2book/1.1"), true}}).ok());
  CHECK(v2.Build({{"N", "feed2"}}).status().message() ==
        "contract graph broken: engine solver consumes marketdata.l2book/1.1 but nothing produces it "
        "(venue N (feed2) produces marketdata.l2book/2.0, not compatible)");
  // Same major, newer minor: compatible; older minor: not.
  GraphOfContractsRegistry minor;
  REQUIRE(minor.RegisterAdapterKind("new", {C("marketdata.l2book/1.3")}, {}).ok());
  REQUIRE(minor.RegisterAdapterKind("old", {C("marketdata.l2book/1.0")}, {}).ok());
  REQUIRE(minor.RegisterEngine("solver", {}, {{C("marketdata.l2book/1.2"), true}}).ok());
  CHECK(minor.Build({{"N", "new"}}).ok());
  CHECK_FALSE(minor.Build({{"O", "old"}}).ok());
  CHECK(minor.RegisterAdapterKind("new", {}, {}).code() == absl::StatusCode::kAlreadyExists);
  CHECK(ParseContract("marketdata.l2book").status().message() ==
        "contract \"marketdata.l2book\": expected name/MAJOR.MINOR");
}
