// Certificates for a test cluster, made by the script users run (deploy/gen-certs.sh): a cluster
// CA in `dir` and one certificate per node id of `nodes` (space-separated). Needs EXO_SOURCE_DIR.
#pragma once

#include <cstdlib>
#include <string>

namespace exo::testing {

inline bool GenerateClusterCerts(const std::string& dir, const std::string& nodes) {
  const std::string cmd = std::string(EXO_SOURCE_DIR) + "/deploy/gen-certs.sh " + dir + " " + nodes + " >/dev/null";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace exo::testing
