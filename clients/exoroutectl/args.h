// Command-line arguments of exoroutectl: positional words and --flags (with "--flag value" or
// "--flag=value"), parsed once; unknown flags are an error naming the flag.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace exo::ctl {

class Args {
 public:
  // `boolean_flags` take no value; every other flag takes one. A flag of `list_flags` (a
  // comma-separated list, `--deny A,B`) may be given more than once: its values add up, as one
  // list. Any other flag that takes a value may be given once: a second one is refused, naming
  // both values (it used to replace the first without a word: `--deny A --deny B` routed to A).
  static absl::StatusOr<Args> Parse(int argc, char** argv, const std::set<std::string>& known,
                                    const std::set<std::string>& boolean_flags,
                                    const std::set<std::string>& list_flags = {});

  const std::vector<std::string>& words() const { return words_; }
  // The flags given (their names, without the dashes), sorted.
  std::vector<std::string> flags() const;
  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  // Parses an unsigned integer flag; InvalidArgument naming the flag.
  absl::StatusOr<uint64_t> GetUint(const std::string& flag, uint64_t fallback) const;

 private:
  std::vector<std::string> words_;
  std::map<std::string, std::string> values_;
};

}  // namespace exo::ctl
