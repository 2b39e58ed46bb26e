#include "adapters/ws/feed_parser.h"

#include <simdjson.h>

#include "absl/strings/str_cat.h"
#include "exo/fixed_point.h"
#include "exo/quoted.h"
#include "exo/status_macros.h"

namespace exo::adapters::ws {

namespace od = simdjson::ondemand;

struct FeedParser::Impl {
  od::parser parser;
  std::string buffer;

  // Copies the frame into a buffer with simdjson's required padding.
  simdjson::simdjson_result<od::document> Iterate(std::string_view frame) {
    buffer.assign(frame.data(), frame.size());
    buffer.reserve(frame.size() + simdjson::SIMDJSON_PADDING);
    return parser.iterate(simdjson::padded_string_view(buffer.data(), buffer.size(), buffer.capacity()));
  }
};

namespace {

absl::Status Bad(const char* where, std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", Sv(field), ": ", Sv(why)));
}

const char* ErrorText(simdjson::error_code e) { return simdjson::error_message(e); }

// [[price, size], ...] with decimal strings; `where` and `field` name it in errors.
absl::Status ParseLevels(od::array levels, const Scales& s, const char* where, std::string_view field,
                         std::vector<PriceLevel>* out) {
  size_t i = 0;
  for (auto entry : levels) {
    od::array pair;
    if (auto e = entry.get_array().get(pair)) {
      return Bad(where, absl::StrCat(Sv(field), "[", i, "]"), ErrorText(e));
    }
    std::string_view texts[2];
    size_t k = 0;
    for (auto v : pair) {
      if (k == 2) return Bad(where, absl::StrCat(Sv(field), "[", i, "]"), "more than 2 values");
      if (auto e = v.get_string().get(texts[k])) {
        return Bad(where, absl::StrCat(Sv(field), "[", i, "][", k, "]"),
                   absl::StrCat("expected a decimal string (", ErrorText(e), ")"));
      }
      ++k;
    }
    if (k != 2) return Bad(where, absl::StrCat(Sv(field), "[", i, "]"), "expected [price, size]");
    auto price = ParseDecimal(texts[0], s.price_scale);
    if (!price.ok()) return Bad(where, absl::StrCat(Sv(field), "[", i, "][0]"), std::string(price.status().message()));
    auto size = ParseDecimal(texts[1], s.qty_scale);
    if (!size.ok()) return Bad(where, absl::StrCat(Sv(field), "[", i, "][1]"), std::string(size.status().message()));
    if (*price <= 0 || *size < 0) return Bad(where, absl::StrCat(Sv(field), "[", i, "]"), "price <= 0 or size < 0");
    out->push_back({*price, *size});
    ++i;
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status Field(od::object& obj, const char* where, std::string_view name, T* out) {
  auto r = obj.find_field_unordered(name);
  if (r.error()) return Bad(where, name, r.error() == simdjson::NO_SUCH_FIELD ? "missing" : ErrorText(r.error()));
  if constexpr (std::is_same_v<T, std::string_view>) {
    if (auto e = r.get_string().get(*out)) return Bad(where, name, ErrorText(e));
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (auto e = r.get_uint64().get(*out)) return Bad(where, name, ErrorText(e));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (auto e = r.get_int64().get(*out)) return Bad(where, name, ErrorText(e));
  } else {
    if (auto e = r.get_array().get(*out)) return Bad(where, name, ErrorText(e));
  }
  return absl::OkStatus();
}

}  // namespace

FeedParser::FeedParser() : impl_(std::make_unique<Impl>()) {}
FeedParser::~FeedParser() = default;

absl::StatusOr<FeedEvent> FeedParser::ParseBinanceFrame(std::string_view frame,
                                                        const std::map<std::string, Scales>& scales) {
  constexpr const char* kWhere = "binance frame";
  FeedEvent ev;
  od::document doc;
  if (auto e = impl_->Iterate(frame).get(doc)) return Bad(kWhere, "json", ErrorText(e));
  od::object root;
  if (auto e = doc.get_object().get(root)) return Bad(kWhere, "json", ErrorText(e));
  std::string_view stream;
  EXO_RETURN_IF_ERROR(Field(root, kWhere, "stream", &stream));
  if (stream.find("@depth") == std::string_view::npos) return ev;  // bookTicker, kline, ...
  od::object data;
  if (auto e = root.find_field_unordered("data").get_object().get(data)) return Bad(kWhere, "data", ErrorText(e));
  std::string_view type, symbol;
  EXO_RETURN_IF_ERROR(Field(data, kWhere, "e", &type));
  if (type != "depthUpdate") return Bad(kWhere, "data.e", absl::StrCat("expected depthUpdate, got ", Quoted(Sv(type))));
  EXO_RETURN_IF_ERROR(Field(data, kWhere, "E", &ev.event_time_ms));
  EXO_RETURN_IF_ERROR(Field(data, kWhere, "s", &symbol));
  auto it = scales.find(std::string(symbol));
  if (it == scales.end()) return ev;  // Not a symbol we follow.
  EXO_RETURN_IF_ERROR(Field(data, kWhere, "U", &ev.first_update_id));
  EXO_RETURN_IF_ERROR(Field(data, kWhere, "u", &ev.last_update_id));
  if (ev.first_update_id > ev.last_update_id) return Bad(kWhere, "data.U", "greater than u");
  od::array bids, asks;
  EXO_RETURN_IF_ERROR(Field(data, kWhere, "b", &bids));
  EXO_RETURN_IF_ERROR(ParseLevels(bids, it->second, kWhere, "data.b", &ev.bids));
  EXO_RETURN_IF_ERROR(Field(data, kWhere, "a", &asks));
  EXO_RETURN_IF_ERROR(ParseLevels(asks, it->second, kWhere, "data.a", &ev.asks));
  ev.kind = FeedEvent::Kind::kBinanceDepthUpdate;
  ev.symbol = std::string(symbol);
  return ev;
}

absl::StatusOr<FeedEvent> FeedParser::ParseBinanceSnapshot(std::string_view body, const Scales& s) {
  constexpr const char* kWhere = "binance depth snapshot";
  FeedEvent ev;
  od::document doc;
  if (auto e = impl_->Iterate(body).get(doc)) return Bad(kWhere, "json", ErrorText(e));
  od::object root;
  if (auto e = doc.get_object().get(root)) return Bad(kWhere, "json", ErrorText(e));
  EXO_RETURN_IF_ERROR(Field(root, kWhere, "lastUpdateId", &ev.last_update_id));
  od::array bids, asks;
  EXO_RETURN_IF_ERROR(Field(root, kWhere, "bids", &bids));
  EXO_RETURN_IF_ERROR(ParseLevels(bids, s, kWhere, "bids", &ev.bids));
  EXO_RETURN_IF_ERROR(Field(root, kWhere, "asks", &asks));
  EXO_RETURN_IF_ERROR(ParseLevels(asks, s, kWhere, "asks", &ev.asks));
  ev.kind = FeedEvent::Kind::kBinanceSnapshot;
  return ev;
}

absl::StatusOr<FeedEvent> FeedParser::ParseCoinbaseFrame(std::string_view frame,
                                                         const std::map<std::string, Scales>& scales) {
  constexpr const char* kWhere = "coinbase frame";
  FeedEvent ev;
  od::document doc;
  if (auto e = impl_->Iterate(frame).get(doc)) return Bad(kWhere, "json", ErrorText(e));
  od::object root;
  if (auto e = doc.get_object().get(root)) return Bad(kWhere, "json", ErrorText(e));
  std::string_view type, product;
  EXO_RETURN_IF_ERROR(Field(root, kWhere, "type", &type));
  if (type != "snapshot" && type != "l2update") return ev;  // subscriptions, heartbeats, ...
  EXO_RETURN_IF_ERROR(Field(root, kWhere, "product_id", &product));
  auto it = scales.find(std::string(product));
  if (it == scales.end()) return ev;
  ev.symbol = std::string(product);
  if (type == "snapshot") {
    od::array bids, asks;
    EXO_RETURN_IF_ERROR(Field(root, kWhere, "bids", &bids));
    EXO_RETURN_IF_ERROR(ParseLevels(bids, it->second, kWhere, "bids", &ev.bids));
    EXO_RETURN_IF_ERROR(Field(root, kWhere, "asks", &asks));
    EXO_RETURN_IF_ERROR(ParseLevels(asks, it->second, kWhere, "asks", &ev.asks));
    ev.kind = FeedEvent::Kind::kCoinbaseSnapshot;
    return ev;
  }
  od::array changes;
  EXO_RETURN_IF_ERROR(Field(root, kWhere, "changes", &changes));
  size_t i = 0;
  for (auto change : changes) {
    std::string field = absl::StrCat("changes[", i, "]");
    od::array triple;
    if (auto e = change.get_array().get(triple)) return Bad(kWhere, field, ErrorText(e));
    std::string_view parts[3];
    size_t k = 0;
    for (auto v : triple) {
      if (k == 3) return Bad(kWhere, field, "more than 3 values");
      if (auto e = v.get_string().get(parts[k])) return Bad(kWhere, field, ErrorText(e));
      ++k;
    }
    if (k != 3) return Bad(kWhere, field, "expected [side, price, size]");
    auto price = ParseDecimal(parts[1], it->second.price_scale);
    if (!price.ok()) return Bad(kWhere, field + "[1]", std::string(price.status().message()));
    auto size = ParseDecimal(parts[2], it->second.qty_scale);
    if (!size.ok()) return Bad(kWhere, field + "[2]", std::string(size.status().message()));
    if (*price <= 0 || *size < 0) return Bad(kWhere, field, "price <= 0 or size < 0");
    if (parts[0] == "buy") {
      ev.bids.push_back({*price, *size});
    } else if (parts[0] == "sell") {
      ev.asks.push_back({*price, *size});
    } else {
      return Bad(kWhere, field + "[0]", absl::StrCat("side must be buy or sell, got ", Quoted(Sv(parts[0]))));
    }
    ++i;
  }
  ev.kind = FeedEvent::Kind::kCoinbaseUpdate;
  return ev;
}

}  // namespace exo::adapters::ws
