#include "tests/solver/clp_reference.h"

#include <ClpSimplex.hpp>
#include <CoinPackedMatrix.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace exo::testing {

using namespace exoroute::v1;  // NOLINT

bool LoadClpModel(const SolveInput& in, ClpSimplex* model) {
  const bool buy = in.side() == SIDE_BUY;
  std::vector<double> obj, col_ub;
  std::vector<int> starts{0};
  std::vector<int> rows;
  std::vector<double> values;
  std::vector<double> row_lb, row_ub;
  int venue_row = 1;  // Row 0 is Σ = Q.
  int64_t placeable = 0;
  for (const auto& v : in.venues()) {
    const auto& levels = buy ? v.book().asks() : v.book().bids();
    int64_t avail = 0;
    for (const auto& l : levels) {
      if (in.has_limit_price() && (buy ? l.price() > in.limit_price() : l.price() < in.limit_price())) break;
      double f = v.fee_bps() / 1e4;
      obj.push_back(buy ? l.price() * (1 + f) : -l.price() * (1 - f));
      col_ub.push_back(static_cast<double>(l.size()));
      rows.push_back(0);
      values.push_back(1.0);
      rows.push_back(venue_row);
      values.push_back(1.0);
      starts.push_back(static_cast<int>(rows.size()));
      avail += l.size();
    }
    int64_t cap = v.max_quantity() > 0 ? std::min(avail, v.max_quantity()) : avail;
    placeable += cap / v.lot_size() * v.lot_size();
    row_lb.push_back(0);
    row_ub.push_back(v.max_quantity() > 0 ? static_cast<double>(v.max_quantity()) : COIN_DBL_MAX);
    ++venue_row;
  }
  const int64_t placed = std::min(in.quantity(), placeable);
  int ncols = static_cast<int>(obj.size());
  if (ncols == 0 || placed == 0) return false;
  std::vector<double> lb_rows{static_cast<double>(placed)}, ub_rows{static_cast<double>(placed)};
  lb_rows.insert(lb_rows.end(), row_lb.begin(), row_lb.end());
  ub_rows.insert(ub_rows.end(), row_ub.begin(), row_ub.end());
  std::vector<int> lengths(ncols, 2);
  CoinPackedMatrix m(true, venue_row, ncols, static_cast<CoinBigIndex>(rows.size()), values.data(),
                     rows.data(), starts.data(), lengths.data());
  std::vector<double> col_lb(ncols, 0.0);
  model->setLogLevel(0);
  model->loadProblem(m, col_lb.data(), col_ub.data(), obj.data(), lb_rows.data(), ub_rows.data());
  return true;
}

ClpResult SolveClpModel(ClpSimplex* model) {
  model->dual();
  ClpResult r;
  r.ok = model->isProvenOptimal();
  r.cost = model->objectiveValue();
  r.placed = static_cast<int64_t>(std::llround(model->getRowLower()[0]));
  return r;
}

ClpResult SolveWithClp(const SolveInput& in) {
  ClpSimplex model;
  if (!LoadClpModel(in, &model)) {
    ClpResult r;
    r.ok = true;
    return r;
  }
  return SolveClpModel(&model);
}

}  // namespace exo::testing
