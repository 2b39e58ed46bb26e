// A node for the fuzz targets that drive the daemon: the embedded default config (three sim
// venues, answering after `sim_latency_ms`), a real RocksDB store in exo::fuzz::DataDir(), the
// engine started and every venue's book in; the first venue (SIM-A) behind a TapVenue, through
// which a target can deliver execution reports of its own. Made on the first call (its
// argument counts then only) and never destroyed.
#pragma once

#include "daemon/cluster/cluster_node.h"
#include "daemon/router_engine.h"
#include "store/delta_store.h"
#include "tests/testing/tap_venue.h"

namespace exo::fuzz {

struct FuzzNode {
  exoroute::v1::DaemonConfig config;
  store::DeltaStore* store = nullptr;
  daemon::RouterEngine* engine = nullptr;
  testing::TapVenue* sim_a = nullptr;
};

const FuzzNode& Node(uint32_t sim_latency_ms = 0);

// That node's part in a cluster, alone in it (its sums need no peer's key), no privacy noise.
daemon::cluster::ClusterNode& Cluster();

}  // namespace exo::fuzz
