// FIX 4.4 messages from a venue, as a FixVenue's session takes them: QuickFIX parses each and
// validates it against deploy/fix/FIX44.xml (fix::DeliverRawMessage: the session's own path, no
// socket), and the venue turns what passes into execution events and its market-data book. The
// venue has sent orders C1 (buy 1 BTC) and C2 (sell 0.5 BTC) and is reconciling C3 (buy 0.5).
// An input is messages separated by '\n': each the fields after the header ("35=8|11=C1|...",
// '|' for SOH; header, BodyLength and CheckSum are added) or, after a '!', the bytes as sent.
// Checks: a fill names an order the venue sent (or, of one it does not hold, carries the venue's
// CumQty, at least its quantity, and the symbol), its quantity and price are within 1..2^53
// units and its fee is the exact rounded fee; a completion's unfilled quantity is within its
// order, and no order ends twice (a report after its end is refused, or taken as a fill); the
// book, when the venue offers one, has prices and sizes within 1..2^53 units and is not crossed,
// and when it offers none, BookProblem() says why.
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "adapters/fix/fix_engine.h"
#include "adapters/fix/fix_venue.h"
#include "exo/fixed_point.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/testing/raw_fix_peer.h"

namespace {

constexpr double kFeeBps = 10;

// The session without its socket: it keeps the venue's callbacks for the input's messages.
class SocketlessClient final : public exo::fix::FixClient {
 public:
  explicit SocketlessClient(Callbacks cb) : callbacks(std::move(cb)) {}
  bool Start(std::string*) override { return true; }
  void Stop() override {}
  bool logged_on() const override { return true; }
  std::string state() const override { return "socketless"; }
  bool SendNewOrder(const std::string&, const std::string&, bool, const std::string&, const std::string&,
                    const std::string&, std::string*) override {
    return true;
  }
  bool SendMarketDataRequest(const std::string&, const std::vector<std::string>&, int, bool, std::string*) override {
    return true;
  }
  bool SendStatusRequest(const std::string&, const std::string&, bool, std::string*) override { return true; }
  bool SendCancel(const std::string&, const std::string&, const std::string&, bool, const std::string&,
                  std::string*) override {
    return true;
  }
  Callbacks callbacks;
};

exoroute::v1::ChildOrder Child(const std::string& id, exoroute::v1::Side side, int64_t qty, int64_t limit) {
  exoroute::v1::ChildOrder c;
  c.set_cl_ord_id(id);
  c.set_venue("FIXV");
  c.set_side(side);
  c.set_quantity(qty);
  c.set_limit_price(limit);
  return c;
}

void CheckEvent(const exo::adapters::ExecutionEvent& e, const std::map<std::string, int64_t>& quantity,
                std::map<std::string, int>& ends) {
  using Type = exo::adapters::ExecutionEvent::Type;
  if (e.type == Type::kUnknown) return;
  auto order = quantity.find(e.cl_ord_id);
  // A fill of an order the adapter does not hold goes to the engine with the venue's count
  // (cum_quantity) for it to take what its plan has not; any other event is of an order held.
  const bool unheld = e.type == Type::kFill && e.cum_quantity >= 0;
  FUZZ_CHECK(unheld || order != quantity.end(), "an event for %s, an order the venue never sent",
             e.cl_ord_id.c_str());
  FUZZ_CHECK(!unheld || (e.cum_quantity >= e.quantity && e.cum_quantity <= exo::kMaxUnits && e.symbol == "BTC-USD"),
             "fill of %s, not held: %lld of CumQty %lld in %s", e.cl_ord_id.c_str(), static_cast<long long>(e.quantity),
             static_cast<long long>(e.cum_quantity), e.symbol.c_str());
  if (e.type == Type::kFill) {
    FUZZ_CHECK(e.quantity > 0 && e.quantity <= exo::kMaxUnits && e.price > 0 && e.price <= exo::kMaxUnits,
               "fill %lld @ %lld", static_cast<long long>(e.quantity), static_cast<long long>(e.price));
    // The fee as the plan records it: notional (price × quantity / 10^8) × 10 bp, rounded.
    const __int128 product = static_cast<__int128>(e.price) * e.quantity * exo::FeePpm(kFeeBps);
    const __int128 den = static_cast<__int128>(1'000'000) * 100'000'000;
    const __int128 fee = (product + den / 2) / den;
    if (fee <= std::numeric_limits<int64_t>::max()) {  // (Beyond: the engine refuses the fill.)
      FUZZ_CHECK(e.fee == static_cast<int64_t>(fee), "fee %lld for %lld @ %lld", static_cast<long long>(e.fee),
                 static_cast<long long>(e.quantity), static_cast<long long>(e.price));
    }
  } else {
    FUZZ_CHECK(e.canceled_quantity >= 0 && e.canceled_quantity <= order->second, "%s done with %lld unfilled",
               e.cl_ord_id.c_str(), static_cast<long long>(e.canceled_quantity));
    FUZZ_CHECK(++ends[e.cl_ord_id] == 1, "%s ended twice", e.cl_ord_id.c_str());
  }
}

void CheckBook(const exo::adapters::FixVenue& venue) {
  const auto book = venue.Book("BTC-USD");
  const std::string problem = venue.BookProblem("BTC-USD");
  FUZZ_CHECK((book == nullptr) != problem.empty(), "book %s, problem \"%s\"", book ? "offered" : "none",
             problem.c_str());
  if (book == nullptr) return;
  for (const auto* side : {&book->bids(), &book->asks()}) {
    for (const auto& l : *side) {
      FUZZ_CHECK(l.price() > 0 && l.price() <= exo::kMaxUnits && l.size() > 0 && l.size() <= exo::kMaxUnits,
                 "level %lld x %lld", static_cast<long long>(l.price()), static_cast<long long>(l.size()));
    }
  }
  FUZZ_CHECK(book->bids().empty() || book->asks().empty() || book->bids(0).price() < book->asks(0).price(),
             "crossed book offered");
}

}  // namespace

namespace exo::fuzz {

std::vector<std::string> Seeds() {
  const std::string snapshot =
      "35=W|262=FIXV-md|55=BTC-USD|268=2|269=0|270=64999.00|271=1.5|269=1|270=65001.00|271=2|";
  return {
      snapshot + "\n35=X|262=FIXV-md|268=2|279=0|269=1|55=BTC-USD|270=65002.00|271=1|279=2|269=0|55=BTC-USD|270=64999.00|",
      snapshot + "\n35=X|262=FIXV-md|268=1|279=1|269=1|55=BTC-USD|270=65001.00|271=-2|",
      "35=8|37=v1|11=C1|17=e1|150=F|39=1|55=BTC-USD|54=1|32=0.25|31=65000.00|151=0.75|14=0.25|6=65000|\n"
      "35=8|37=v1|11=C1|17=e2|150=F|39=2|55=BTC-USD|54=1|32=0.75|31=64999.50|151=0|14=1|6=64999.625|",
      "35=8|37=v2|11=C2|17=e3|150=4|39=4|55=BTC-USD|54=2|151=0|14=0|6=0|58=user|\n"
      "35=9|37=v2|11=C2-C|41=C2|39=4|434=1|58=too late|",
      "35=8|37=v3|11=C3|17=s1|150=I|39=1|55=BTC-USD|54=1|151=0.25|14=0.25|6=65000.00|",
      // A bust and a correction of e1, C1 cancelled counting more than was reported, a fill and
      // the end again after it.
      "35=8|37=v1|11=C1|17=e1|150=F|39=1|55=BTC-USD|54=1|32=0.25|31=65000.00|151=0.75|14=0.25|6=65000|\n"
      "35=8|37=v1|11=C1|17=e2|150=H|19=e1|39=0|55=BTC-USD|54=1|32=0.25|31=65000|151=1|14=0|6=0|\n"
      "35=8|37=v1|11=C1|17=e3|150=G|19=e1|39=1|55=BTC-USD|54=1|32=0.2|31=64999|151=0.8|14=0.2|6=64999|\n"
      "35=8|37=v1|11=C1|17=e4|150=4|39=4|55=BTC-USD|54=1|151=0|14=0.5|6=65000.5|\n"
      "35=8|37=v1|11=C1|17=e5|150=F|39=4|55=BTC-USD|54=1|32=0.1|31=65001|151=0|14=0.6|6=65000.7|\n"
      "35=8|37=v1|11=C1|17=e6|150=4|39=4|55=BTC-USD|54=1|151=0|14=0.6|6=65000.7|",
      "35=8|37=v9|11=ZZ|17=e9|150=F|39=2|55=BTC-USD|54=1|32=1|31=1|151=0|14=1|6=1|",
      "35=8|37=v9|11=ZZ|17=e9|150=F|39=2|55=ETH-USD|54=1|32=1|31=1|151=0|14=0.5|6=1|",
      "35=8|37=v1|11=C1|17=e5|150=F|39=1|55=BTC-USD|54=1|32=90000000|31=90000000000.00|151=0|14=1|6=1|",
      "35=0|\n!8=FIX.4.4\x01" "9=5\x01" "35=0\x01" "10=000\x01",
  };
}

}  // namespace exo::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dictionary = std::string(EXO_SOURCE_DIR) + "/deploy/fix/FIX44.xml";
  exo::adapters::FixVenue::Options o;
  o.venue_id = "FIXV";
  o.config.set_sender_comp_id("E");
  o.config.set_target_comp_id("V");
  o.config.set_market_data(true);
  o.config.set_data_dictionary(dictionary);
  o.fee_bps = kFeeBps;
  o.store_dir = exo::fuzz::DataDir() + "/fix";
  exoroute::v1::Instrument btc;
  btc.set_symbol("BTC-USD");
  btc.set_price_scale(2);
  btc.set_qty_scale(8);
  o.instruments.push_back(btc);
  SocketlessClient* session = nullptr;
  o.client_factory = [&session](const exo::fix::SessionConfig&, exo::fix::FixClient::Callbacks cb, std::string*) {
    auto c = std::make_unique<SocketlessClient>(std::move(cb));
    session = c.get();
    return std::unique_ptr<exo::fix::FixClient>(std::move(c));
  };
  const std::map<std::string, int64_t> quantity = {{"C1", 100'000'000}, {"C2", 50'000'000}, {"C3", 50'000'000}};
  exo::adapters::FixVenue venue(o);
  std::map<std::string, int> ends;
  FUZZ_CHECK(venue.Start([&quantity, &ends](exo::adapters::ExecutionEvent e) { CheckEvent(e, quantity, ends); }).ok(),
             "start");
  session->callbacks.on_logon();
  FUZZ_CHECK(venue.Send(Child("C1", exoroute::v1::SIDE_BUY, 100'000'000, 6'500'100), "BTC-USD").ok(), "send C1");
  FUZZ_CHECK(venue.Send(Child("C2", exoroute::v1::SIDE_SELL, 50'000'000, 6'400'000), "BTC-USD").ok(), "send C2");
  FUZZ_CHECK(venue.Reconcile(Child("C3", exoroute::v1::SIDE_BUY, 50'000'000, 6'500'100), "BTC-USD", 0).ok(),
             "reconcile C3");

  const std::string input(reinterpret_cast<const char*>(data), size);
  int seq = 2;
  for (size_t at = 0; at <= input.size();) {
    size_t end = input.find('\n', at);
    if (end == std::string::npos) end = input.size();
    const std::string line = input.substr(at, end - at);
    at = end + 1;
    if (line.empty()) continue;
    const std::string raw = line[0] == '!' ? line.substr(1)
                                           : exo::testing::FrameFix(line, seq++, "V", "E", "20261203-00:00:00");
    std::string error;
    const bool taken = exo::fix::DeliverRawMessage(raw, dictionary, session->callbacks, &error);
    if (std::getenv("EXO_FUZZ_VERBOSE") != nullptr) {
      std::fprintf(stderr, "%s %s\n", taken ? "taken:" : "refused:", taken ? line.c_str() : error.c_str());
    }
    CheckBook(venue);
  }
  venue.Stop();
  return 0;
}
