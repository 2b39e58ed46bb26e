// A node for the fuzz targets that drive the daemon: the embedded default config (three sim
// venues answering at once), a real RocksDB store in exo::fuzz::DataDir(), the engine started
// and every venue's book in. Made once per process and never destroyed.
#pragma once

#include "daemon/router_engine.h"
#include "store/delta_store.h"

namespace exo::fuzz {

struct FuzzNode {
  exoroute::v1::DaemonConfig config;
  store::DeltaStore* store = nullptr;
  daemon::RouterEngine* engine = nullptr;
};

const FuzzNode& Node();

}  // namespace exo::fuzz
