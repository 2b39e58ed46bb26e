#include "exo/json_input.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "exo/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace exo {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Value;

absl::Status Bad(const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

// A JSON value as the file has it, for a message ("-1", "2.5", "\"x\"", "true").
std::string Shown(const Value& v) {
  switch (v.kind_case()) {
    case Value::kNumberValue: {
      const double x = v.number_value();
      if (std::floor(x) == x && std::fabs(x) < 1e18) return absl::StrCat(static_cast<int64_t>(x));
      return absl::StrFormat("%.15g", x);  // (As typed, mostly: 0.1, not 0.10000000000000001.)
    }
    case Value::kStringValue: {
      const std::string& s = v.string_value();  // (Shortened: a message names a value, not a file.)
      return absl::StrCat("\"", s.size() > 64 ? absl::StrCat(s.substr(0, 61), "...") : s, "\"");
    }
    case Value::kBoolValue: return v.bool_value() ? "true" : "false";
    case Value::kStructValue: return "an object";
    case Value::kListValue: return "a list";
    default: return "null";
  }
}

// A scalar field's value of a kind the field cannot take: said in the field's words (protobuf's
// own parser says "(venues[2].sim.depth): invalid value -1 for type TYPE_UINT32"). What it may
// take as a string (a number in quotes, an enum value's number) is left to it.
absl::Status CheckScalar(const Value& v, const FieldDescriptor* f, const std::string& here) {
  if (v.kind_case() == Value::kNullValue || v.kind_case() == Value::KIND_NOT_SET) return absl::OkStatus();
  const bool number = v.kind_case() == Value::kNumberValue, text = v.kind_case() == Value::kStringValue;
  auto whole = [&](double lo, double hi, const char* range) -> absl::Status {
    double parsed = 0;  // (A number in quotes: its range is protobuf's to check.)
    if (text && absl::SimpleAtod(v.string_value(), &parsed)) return absl::OkStatus();
    const double x = number ? v.number_value() : 0;
    if (number && std::floor(x) == x && x >= lo && x <= hi) return absl::OkStatus();
    return Bad(here, absl::StrCat("must be a whole number within ", range, ", got ", Shown(v)));
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return whole(-2147483648.0, 2147483647.0, "-2147483648..2147483647");
    case FieldDescriptor::CPPTYPE_UINT32: return whole(0, 4294967295.0, "0..4294967295");
    case FieldDescriptor::CPPTYPE_INT64: return whole(-9.223372036854775808e18, 9.223372036854775807e18, "-2^63..2^63-1");
    case FieldDescriptor::CPPTYPE_UINT64: return whole(0, 1.8446744073709551615e19, "0..2^64-1");
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return number || text ? absl::OkStatus() : Bad(here, absl::StrCat("must be a number, got ", Shown(v)));
    case FieldDescriptor::CPPTYPE_BOOL:
      return v.kind_case() == Value::kBoolValue ? absl::OkStatus()
                                                : Bad(here, absl::StrCat("must be true or false, got ", Shown(v)));
    case FieldDescriptor::CPPTYPE_STRING:
      return text ? absl::OkStatus() : Bad(here, absl::StrCat("must be a string, got ", Shown(v)));
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (number) return absl::OkStatus();
      std::vector<std::string> names;
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        const std::string& name = f->enum_type()->value(i)->name();
        if (text && name == v.string_value()) return absl::OkStatus();
        if (!absl::EndsWith(name, "_UNSPECIFIED")) names.push_back(name);
      }
      return Bad(here, absl::StrCat("must be one of ", absl::StrJoin(names, ", "), ", got ", Shown(v)));
    }
    default: return absl::OkStatus();
  }
}

absl::Status CheckKeys(const Value& v, const Descriptor* d, const std::string& path) {
  if (v.kind_case() != Value::kStructValue) {
    return Bad(path.empty() ? "the whole file" : path, "must be a JSON object");
  }
  for (const auto& [key, child] : v.struct_value().fields()) {
    const FieldDescriptor* f = d->FindFieldByName(key);
    for (int i = 0; f == nullptr && i < d->field_count(); ++i) {
      if (d->field(i)->json_name() == key) f = d->field(i);
    }
    std::string here = path.empty() ? key : absl::StrCat(path, ".", key);
    if (f == nullptr) return Bad(here, absl::StrCat("unknown key (not in ", d->name(), ")"));
    if (f->type() != FieldDescriptor::TYPE_MESSAGE) {
      if (!f->is_repeated()) {
        EXO_RETURN_IF_ERROR(CheckScalar(child, f, here));
      } else if (child.kind_case() == Value::kListValue) {
        for (int i = 0; i < child.list_value().values_size(); ++i) {
          EXO_RETURN_IF_ERROR(CheckScalar(child.list_value().values(i), f, absl::StrCat(here, "[", i, "]")));
        }
      } else if (child.kind_case() != Value::kNullValue) {
        return Bad(here, "must be a JSON array");
      }
      continue;
    }
    if (f->is_repeated()) {
      if (child.kind_case() != Value::kListValue) return Bad(here, "must be a JSON array");
      for (int i = 0; i < child.list_value().values_size(); ++i) {
        EXO_RETURN_IF_ERROR(CheckKeys(child.list_value().values(i), f->message_type(),
                                      absl::StrCat(here, "[", i, "]")));
      }
    } else if (child.kind_case() != Value::kNullValue) {
      EXO_RETURN_IF_ERROR(CheckKeys(child, f->message_type(), here));
    }
  }
  return absl::OkStatus();
}

// "not valid JSON at line L, column C: <reason>" (both from 1). Protobuf's JSON parser says
// where it stopped by quoting up to 20 characters either side of that point with a caret under it
// ("<reason>\n<text around it>\n<spaces>^"): with the file's own line breaks in the quote the caret
// points nowhere. The point is found where the quote occurs once in the text; where it does not
// (or the message has another shape), "not valid JSON: <reason>".
std::string NotJson(absl::string_view json, absl::string_view error) {
  const size_t first = error.find('\n');
  const size_t last = error.rfind('\n');
  if (first == absl::string_view::npos || first == last) return absl::StrCat("not valid JSON: ", error);
  const absl::string_view reason = error.substr(0, first);
  const absl::string_view quote = error.substr(first + 1, last - first - 1);
  const absl::string_view marker = error.substr(last + 1);  // "<spaces>^"
  const size_t caret = marker.size() - 1;
  const size_t at = quote.empty() ? absl::string_view::npos : json.find(quote);
  if (marker.empty() || marker.back() != '^' || marker.find_first_not_of(' ') != caret || caret > quote.size() ||
      at == absl::string_view::npos || json.find(quote, at + 1) != absl::string_view::npos) {
    return absl::StrCat("not valid JSON: ", reason);
  }
  const absl::string_view before = json.substr(0, at + caret);
  const size_t line_start = before.rfind('\n');  // npos + 1 == 0: the first line.
  return absl::StrCat("not valid JSON at line ", std::count(before.begin(), before.end(), '\n') + 1, ", column ",
                      before.size() - (line_start + 1) + 1, ": ", reason);
}

}  // namespace

absl::Status ParseJsonInput(std::string_view json, google::protobuf::Message* out) {
  const google::protobuf::StringPiece text(json.data(), json.size());
  Value tree;
  google::protobuf::util::JsonParseOptions opts;
  if (auto st = google::protobuf::util::JsonStringToMessage(text, &tree, opts); !st.ok()) {
    return absl::InvalidArgumentError(NotJson(absl::string_view(json.data(), json.size()), st.message().as_string()));
  }
  EXO_RETURN_IF_ERROR(CheckKeys(tree, out->GetDescriptor(), ""));
  out->Clear();
  opts.ignore_unknown_fields = false;
  if (auto st = google::protobuf::util::JsonStringToMessage(text, out, opts); !st.ok()) {
    return absl::InvalidArgumentError(st.message().as_string());  // (What the checks above let through.)
  }
  return absl::OkStatus();
}

}  // namespace exo
