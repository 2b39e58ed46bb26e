// JSON that people write — a config file, a book file — read into its protobuf message by the
// proto3 JSON mapping, with every mistake named by its path and in the field's words:
//   venues[1].fee: unknown key (not in VenueConfig)
//   venues[2].sim.depth: must be a whole number within 0..4294967295, got -1
//   routing.method: must be one of SOLVER_METHOD_EXACT, SOLVER_METHOD_ADMM, got "FAST"
//   books: must be a JSON array
// where protobuf's own parser says "(venues[2].sim.depth): invalid value -1 for type
// TYPE_UINT32", or takes one object for a list. Unknown keys are refused, never ignored.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace exo {

// Parses `json` into `*out` (cleared first). InvalidArgument naming the path and the reason
// ("not valid JSON at line 3, column 14: Unexpected token." when it is not JSON at all).
absl::Status ParseJsonInput(std::string_view json, google::protobuf::Message* out);

}  // namespace exo
