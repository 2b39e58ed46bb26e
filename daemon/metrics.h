// The node's Status as Prometheus metrics (text exposition format 0.0.4), for the admin HTTP
// port's GET /metrics. Pure: the same Status gives the same text, families in a fixed order,
// venues and budgets in the order Status lists them. The names are documented in
// docs/configuration.md ("Admin HTTP port"); renaming one breaks dashboards, so don't.
#pragma once

#include <string>
#include <vector>

#include "daemon/latency_histogram.h"

#include "exoroute/v1/admin.pb.h"

namespace exo::daemon {

// One histogram: `name` (base, without _bucket/_sum/_count), its HELP text, and its labels
// (`key="value",...`, escaped; "" for none). Histograms of one name with different labels are
// one family and must be given one after another.
struct HistogramMetric {
  std::string name;
  std::string help;
  LatencyHistogram::Snapshot data;
  std::string labels;
};

std::string RenderPrometheus(const exoroute::v1::StatusResponse& status,
                             const std::vector<HistogramMetric>& histograms = {});

// A label value with \, " and newline escaped as the format requires.
std::string EscapeLabelValue(const std::string& value);

}  // namespace exo::daemon
