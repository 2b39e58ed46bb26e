// The two decisions the ADMM tests compare: the exact method's on an input, and ADMM's (of a
// given variant) on the same input. Both must succeed.
#pragma once

#include <catch2/catch.hpp>

#include "exoroute/v1/types.pb.h"
#include "solver/solver.h"

namespace exo::testing {

struct ExactAndAdmm {
  exoroute::v1::Decision exact;
  exoroute::v1::Decision admm;
};

inline ExactAndAdmm SolveExactAndAdmm(exoroute::v1::SolveInput in, exoroute::v1::AdmmVariant variant) {
  auto exact = exo::solver::Solve(in);
  in.set_method(exoroute::v1::SOLVER_METHOD_ADMM);
  in.set_admm_variant(variant);
  auto admm = exo::solver::Solve(in);
  REQUIRE(exact.ok());
  REQUIRE(admm.ok());
  return {*std::move(exact), *std::move(admm)};
}

}  // namespace exo::testing
