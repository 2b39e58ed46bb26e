#include "clients/exoroutectl/args.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace exo::ctl {

absl::StatusOr<Args> Args::Parse(int argc, char** argv, const std::set<std::string>& known,
                                 const std::set<std::string>& boolean_flags,
                                 const std::set<std::string>& list_flags) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0 || s == "--") {
      a.words_.push_back(s);
      continue;
    }
    std::string name = s.substr(2), value;
    size_t eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (known.count(name) == 0 && boolean_flags.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (boolean_flags.count(name)) {
      if (has_value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      value = "1";
    } else if (!has_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    auto [it, first] = a.values_.emplace(name, value);
    if (first || boolean_flags.count(name)) continue;
    if (list_flags.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " given twice (\"", it->second, "\", then \"", value,
                                                     "\"): give it once"));
    }
    it->second = absl::StrCat(it->second, ",", value);  // (Empty items are skipped where it is split.)
  }
  return a;
}

std::vector<std::string> Args::flags() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : values_) out.push_back(name);
  return out;
}

std::string Args::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<uint64_t> Args::GetUint(const std::string& flag, uint64_t fallback) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  uint64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": expected a non-negative integer, got \"", it->second, "\""));
  }
  return v;
}

}  // namespace exo::ctl
