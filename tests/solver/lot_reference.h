// An independent reference optimum for solver tests: every venue's per-lot marginal costs are
// computed from the raw book one quantity unit at a time (fees, limit, cap and the impact term
// included, nothing from the solver), and the cheapest lots overall are taken. For separable
// convex costs with one common lot size that is exactly optimal.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "exoroute/v1/types.pb.h"

namespace exo::testing {

// Per venue, the cost of each successive lot (price units x quantity units; qty_scale 0).
inline std::map<std::string, std::vector<double>> LotCosts(const exoroute::v1::SolveInput& in) {
  std::map<std::string, std::vector<double>> out;
  const bool buy = in.side() == exoroute::v1::SIDE_BUY;
  for (const auto& v : in.venues()) {
    const auto& levels = buy ? v.book().asks() : v.book().bids();
    auto& lots = out[v.venue()];
    if (levels.empty()) continue;
    std::vector<double> units;
    for (const auto& l : levels) {
      if (in.has_limit_price() &&
          (buy ? l.price() > in.limit_price() : l.price() < in.limit_price())) {
        break;
      }
      double f = v.fee_bps() / 1e4;
      double c = buy ? l.price() * (1 + f) : -l.price() * (1 - f);
      for (int64_t k = 0; k < l.size(); ++k) units.push_back(c);
    }
    double kappa = static_cast<double>(levels[0].price()) * v.impact_bps() / 1e4;
    int64_t usable = static_cast<int64_t>(units.size());
    if (v.max_quantity() > 0) usable = std::min(usable, v.max_quantity());
    const int64_t lot = v.lot_size();
    for (int64_t j = 0; (j + 1) * lot <= usable; ++j) {
      double s = 0;
      for (int64_t u = 0; u < lot; ++u) s += units[j * lot + u];
      s += kappa * static_cast<double>(lot * lot) * (static_cast<double>(j) + 0.5);
      lots.push_back(s);
    }
  }
  return out;
}

// The optimal cost of placing as much of the quantity as fits, in lots of `lot`.
inline double ReferenceOptimum(const exoroute::v1::SolveInput& in, int64_t lot, int64_t* placed) {
  std::vector<double> all;
  for (auto& [venue, lots] : LotCosts(in)) all.insert(all.end(), lots.begin(), lots.end());
  std::sort(all.begin(), all.end());
  int64_t n = std::min<int64_t>(in.quantity() / lot, static_cast<int64_t>(all.size()));
  *placed = n * lot;
  double cost = 0;
  for (int64_t i = 0; i < n; ++i) cost += all[i];
  return cost;
}

// What a decision costs under the reference model. Fails the test on a non-lot share.
inline double ReferenceCost(const exoroute::v1::SolveInput& in, const exoroute::v1::Decision& d,
                            bool* lot_aligned) {
  auto lots = LotCosts(in);
  double cost = 0;
  *lot_aligned = true;
  for (const auto& a : d.allocations()) {
    int64_t lot = 1;
    for (const auto& v : in.venues()) {
      if (v.venue() == a.venue()) lot = v.lot_size();
    }
    const auto& l = lots.at(a.venue());
    if (a.quantity() % lot != 0 || a.quantity() / lot > static_cast<int64_t>(l.size())) {
      *lot_aligned = false;
      continue;
    }
    for (int64_t j = 0; j < a.quantity() / lot; ++j) cost += l[j];
  }
  return cost;
}

}  // namespace exo::testing
