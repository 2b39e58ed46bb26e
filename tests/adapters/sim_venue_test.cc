#include "adapters/sim/sim_venue.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "adapters/book_file.h"
#include "tests/testing/temp_dir.h"

using exo::adapters::ExecutionEvent;
using exo::adapters::SimVenue;
using namespace exoroute::v1;  // NOLINT

namespace {

class FixedClock : public exo::Clock {
 public:
  int64_t NowNs() const override { return 1'700'000'000'000'000'000; }
};

SimVenue::Options Options(uint64_t seed) {
  static FixedClock clock;
  SimVenue::Options o;
  o.venue_id = "SIM-T";
  o.config.set_seed(seed);
  o.config.set_mid_price(10000);
  o.config.set_tick_size(5);
  o.config.set_depth(5);
  o.config.set_level_size(1000);
  o.config.set_update_interval_ms(60000);  // Books move only when a test says so.
  o.fee_bps = 10;
  o.clock = &clock;
  Instrument i;
  i.set_symbol("X");
  i.set_price_scale(0);
  i.set_qty_scale(0);
  o.instruments.push_back(i);
  return o;
}

// Collects events from the venue's thread; waits on a condition, not a sleep.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ExecutionEvent> events;
  void operator()(ExecutionEvent e) {
    std::lock_guard<std::mutex> l(mu);
    events.push_back(std::move(e));
    cv.notify_all();
  }
  std::vector<ExecutionEvent> WaitForDone(const std::string& cl_ord_id) {
    std::unique_lock<std::mutex> l(mu);
    bool ok = cv.wait_for(l, std::chrono::seconds(10), [&] {
      for (auto& e : events) {
        if (e.cl_ord_id == cl_ord_id && e.type == ExecutionEvent::Type::kDone) return true;
      }
      return false;
    });
    REQUIRE(ok);
    return events;
  }
};

ChildOrder Child(const std::string& id, Side side, int64_t qty, int64_t limit) {
  ChildOrder c;
  c.set_cl_ord_id(id);
  c.set_venue("SIM-T");
  c.set_side(side);
  c.set_quantity(qty);
  c.set_limit_price(limit);
  return c;
}

}  // namespace

TEST_CASE("the same seed gives the same book path", "[sim]") {
  SimVenue a(Options(42)), b(Options(42)), c(Options(43));
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    a.Step();
    b.Step();
    c.Step();
    CHECK(a.Book("X")->SerializeAsString() == b.Book("X")->SerializeAsString());
    differs = differs || a.Book("X")->SerializeAsString() != c.Book("X")->SerializeAsString();
  }
  CHECK(differs);
  auto book = a.Book("X");
  REQUIRE(book->asks_size() == 5);
  REQUIRE(book->bids_size() == 5);
  CHECK(book->bids(0).price() < book->asks(0).price());
  CHECK(book->asks(1).price() - book->asks(0).price() == 5);
  CHECK(a.Book("unknown") == nullptr);
}

TEST_CASE("displayed sizes are whole lots", "[sim]") {
  auto o = Options(9);
  o.lot_sizes["X"] = 70;
  SimVenue v(o);
  for (int i = 0; i < 20; ++i) {
    v.Step();
    for (const auto& l : v.Book("X")->asks()) CHECK(l.size() % 70 == 0);
    for (const auto& l : v.Book("X")->bids()) CHECK(l.size() % 70 == 0);
  }
}

TEST_CASE("a market with a book of its own: its mid, tick and level size, the others the venue's", "[sim]") {
  auto o = Options(5);
  Instrument y;
  y.set_symbol("Y");
  o.instruments.push_back(y);
  o.market_sim["Y"].set_mid_price(300);
  o.market_sim["Y"].set_tick_size(1);
  o.market_sim["Y"].set_level_size(40);
  SimVenue v(o);
  for (int i = 0; i < 30; ++i) {
    v.Step();
    const auto x = v.Book("X"), own = v.Book("Y");
    REQUIRE(own->asks_size() == 5);
    REQUIRE(own->bids_size() == 5);
    // The mid walks a tick at most per step from the market's own start.
    CHECK(std::abs((own->bids(0).price() + own->asks(0).price()) / 2 - 300) <= i + 1);
    CHECK(own->asks(1).price() - own->asks(0).price() == 1);
    CHECK(own->bids(0).price() - own->bids(1).price() == 1);
    for (const auto& l : own->asks()) CHECK((l.size() >= 20 && l.size() <= 60 + 2 * 5));
    // X keeps the venue's: mid 10000, tick 5, sizes around 1000.
    CHECK(std::abs((x->bids(0).price() + x->asks(0).price()) / 2 - 10000) <= 5 * (i + 1));
    CHECK(x->asks(1).price() - x->asks(0).price() == 5);
    CHECK(x->asks(0).size() >= 500);
  }
}

TEST_CASE("sim venues sharing a symbol's common price move together and never cross", "[sim]") {
  struct SteppedClock : exo::Clock {
    int64_t now = 1'700'000'000'000'000'000;
    int64_t NowNs() const override { return now; }
  } clock;
  const int64_t interval_ns = 100'000'000;
  auto common = std::make_shared<exo::adapters::SimCommonPrice>(77, 10, interval_ns);
  auto venue = [&](uint64_t seed, int64_t tick) {
    auto o = Options(seed);
    o.clock = &clock;
    o.config.set_tick_size(tick);
    o.common_prices["X"] = common;
    return o;
  };
  SimVenue fine(venue(1, 5)), coarse(venue(2, 10));
  int64_t farthest = 0;
  for (int i = 0; i < 2000; ++i) {
    clock.now += interval_ns;
    fine.Step();
    coarse.Step();
    const auto a = fine.Book("X"), b = coarse.Book("X");
    INFO("step " << i);
    REQUIRE(a->bids(0).price() <= b->asks(0).price());  // Locked at most, never crossed.
    REQUIRE(b->bids(0).price() <= a->asks(0).price());
    farthest = std::max(farthest, std::abs(a->bids(0).price() - 10000));
  }
  // The common price walked them far beyond the venue's own deviation (a spread and a tick).
  CHECK(farthest > 200);
}

TEST_CASE("a common price: one path per seed, never back in time, a long pause caught up bounded", "[sim]") {
  using exo::adapters::SimCommonPrice;
  SimCommonPrice a(5, 3, 10), b(5, 3, 10);
  std::vector<int64_t> path;
  for (int64_t t = 1000; t < 2000; t += 10) {
    path.push_back(a.MoveAt(t));
    CHECK(path.back() % 3 == 0);
    CHECK(b.MoveAt(t) == path.back());
  }
  CHECK(path.front() == 0);  // The walk starts at its first reading.
  CHECK(std::any_of(path.begin(), path.end(), [](int64_t m) { return m != 0; }));
  CHECK(a.MoveAt(500) == path.back());  // An earlier time reads the latest move.
  // A pause of 10^9 intervals moves at most kMaxCatchUp steps.
  const int64_t before = a.MoveAt(2000);
  CHECK(std::abs(a.MoveAt(int64_t{10'000'000'000}) - before) <= 3 * SimCommonPrice::kMaxCatchUp);
}

TEST_CASE("an IOC child fills level by level up to its limit, the rest is cancelled", "[sim]") {
  SimVenue v(Options(1));
  auto book = *v.Book("X");
  Collector sink;
  REQUIRE(v.Start([&](ExecutionEvent e) { sink(std::move(e)); }).ok());
  int64_t two_levels = book.asks(0).size() + book.asks(1).size();
  REQUIRE(v.Send(Child("c1", SIDE_BUY, two_levels + 50, book.asks(1).price()), "X").ok());
  auto events = sink.WaitForDone("c1");
  REQUIRE(events.size() == 3);
  CHECK(events[0].price == book.asks(0).price());
  CHECK(events[0].quantity == book.asks(0).size());
  CHECK(events[1].price == book.asks(1).price());
  // 10 bp of the notional, exactly: price x size / 1000, rounded half away from zero.
  CHECK(events[0].fee == (book.asks(0).price() * book.asks(0).size() + 500) / 1000);
  CHECK(events[2].type == ExecutionEvent::Type::kDone);
  CHECK(events[2].canceled_quantity == 50);
  CHECK(events[2].reason == "ioc remainder");
  // The liquidity taken is gone from the book until it next moves.
  CHECK(v.Book("X")->asks(0).price() == book.asks(2).price());
  CHECK(v.fills() == 2);
  CHECK(v.children_sent() == 1);
  v.Stop();
  CHECK(v.Send(Child("c2", SIDE_BUY, 1, 1), "X").code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("an unresponsive sim venue takes children and cancels and answers none", "[sim]") {
  SimVenue::Options o = Options(3);
  o.config.set_unresponsive(true);
  o.config.set_max_order_quantity(100);  // Not even a rejection comes back.
  SimVenue v(o);
  auto book = *v.Book("X");
  Collector sink;
  REQUIRE(v.Start([&](ExecutionEvent e) { sink(std::move(e)); }).ok());
  REQUIRE(v.Send(Child("u1", SIDE_BUY, 10, book.asks(0).price()), "X").ok());
  REQUIRE(v.Send(Child("u2", SIDE_BUY, 500, book.asks(0).price()), "X").ok());
  CHECK(v.Cancel("u1").ok());  // Taken, as a session that is up takes it.
  // An answering venue with no latency reports within microseconds; this one, never.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard<std::mutex> l(sink.mu);
    CHECK(sink.events.empty());
  }
  CHECK(v.children_sent() == 2);
  CHECK(v.fills() == 0);
  CHECK(v.Book("X")->asks(0).price() == book.asks(0).price());  // Nothing taken from its book.
  v.Stop();
}

TEST_CASE("a sell child hits bids, an unknown symbol is refused", "[sim]") {
  SimVenue v(Options(2));
  auto book = *v.Book("X");
  Collector sink;
  REQUIRE(v.Start([&](ExecutionEvent e) { sink(std::move(e)); }).ok());
  REQUIRE(v.Send(Child("s1", SIDE_SELL, 10, book.bids(0).price()), "X").ok());
  auto events = sink.WaitForDone("s1");
  CHECK(events[0].price == book.bids(0).price());
  CHECK(events.back().canceled_quantity == 0);
  CHECK(events.back().reason == "filled");
  CHECK(v.Send(Child("s2", SIDE_SELL, 10, 1), "Y").code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("book files load, and bad ones name the problem", "[sim]") {
  exo::testing::TempDir dir;
  std::ofstream(dir / "good.json") << R"({"books":[{"venue":"SIM-T","symbol":"X",
      "asks":[{"price":"101","size":"5"}],"bids":[{"price":99,"size":7}]}]})";
  auto file = exo::adapters::LoadBookFile(dir / "good.json");
  REQUIRE(file.ok());
  CHECK(file->books(0).asks(0).price() == 101);

  auto o = Options(1);
  o.fixed_books["X"] = file->books(0);
  SimVenue v(o);
  CHECK(v.Book("X")->asks(0).size() == 5);
  v.Step();
  CHECK(v.Book("X")->asks(0).price() == 101);  // Fixed books do not move.
  // A venue serving a file needs no tick; a market the file has no book for still moves.
  auto untick = Options(1);
  untick.config.clear_tick_size();
  untick.fixed_books["X"] = file->books(0);
  Instrument y;
  y.set_symbol("Y");
  untick.instruments.push_back(y);
  SimVenue partial(untick);
  for (int i = 0; i < 5; ++i) partial.Step();
  CHECK(partial.Book("X")->asks(0).price() == 101);
  CHECK_FALSE(partial.Book("Y")->asks().empty());

  std::ofstream(dir / "bad.json") << R"({"books":[{"venue":"A","symbol":"X","asks":[{"price":0,"size":1}]}]})";
  CHECK(std::string(exo::adapters::LoadBookFile(dir / "bad.json").status().message()) ==
        "book file " + (dir / "bad.json") + ": books[0].asks[0]: price and size must be within 1..2^53 units");
  std::ofstream(dir / "huge.json") << R"({"books":[{"venue":"A","symbol":"X","bids":[{"price":5,"size":"9007199254740993"}]}]})";
  CHECK(std::string(exo::adapters::LoadBookFile(dir / "huge.json").status().message()) ==
        "book file " + (dir / "huge.json") + ": books[0].bids[0]: price and size must be within 1..2^53 units");
  std::ofstream(dir / "unsorted.json")
      << R"({"books":[{"venue":"A","symbol":"X","asks":[{"price":101,"size":1},{"price":100,"size":1}]}]})";
  CHECK(std::string(exo::adapters::LoadBookFile(dir / "unsorted.json").status().message()) ==
        "book file " + (dir / "unsorted.json") +
            ": books[0].asks[1]: price 100 after 101: asks go best first, strictly ascending");
  std::ofstream(dir / "twice.json")
      << R"({"books":[{"venue":"A","symbol":"X","bids":[{"price":99,"size":1},{"price":99,"size":2}]}]})";
  CHECK(std::string(exo::adapters::LoadBookFile(dir / "twice.json").status().message()) ==
        "book file " + (dir / "twice.json") + ": books[0].bids[1]: price 99 after 99: bids go best first, strictly descending");
  std::ofstream(dir / "again.json") << R"({"books":[{"venue":"A","symbol":"X","bids":[{"price":99,"size":1}]},
      {"venue":"A","symbol":"Y","bids":[{"price":9,"size":1}]},{"venue":"A","symbol":"X","asks":[{"price":101,"size":1}]}]})";
  CHECK(std::string(exo::adapters::LoadBookFile(dir / "again.json").status().message()) ==
        "book file " + (dir / "again.json") + ": books[2]: venue \"A\" symbol \"X\" already has a book (books[0])");
  // Keys and values of the wrong kind, in the file's words and with the path (protobuf's parser
  // said "(books[0].asks[0]) sz: Cannot find field." or "invalid value … for type TYPE_INT64",
  // and took one object for a list of levels).
  const std::vector<std::pair<std::string, std::string>> wrong = {
      {R"({"bookz":[]})", "bookz: unknown key (not in BookSnapshotFile)"},
      {R"({"books":[{"venue":"A","symbol":"X","asks":[{"price":101,"sz":1}]}]})",
       "books[0].asks[0].sz: unknown key (not in BookLevel)"},
      {R"({"books":[{"venue":"A","symbol":"X","asks":[{"price":"abc","size":1}]}]})",
       "books[0].asks[0].price: must be a whole number within -2^63..2^63-1, got \"abc\""},
      {R"({"books":[{"venue":"A","symbol":"X","asks":[{"price":100.5,"size":1}]}]})",
       "books[0].asks[0].price: must be a whole number within -2^63..2^63-1, got 100.5"},
      {R"({"books":[{"venue":"A","symbol":"X","asks":{"price":101,"size":1}}]})", "books[0].asks: must be a JSON array"},
      {R"({"books":[{"venue":7,"symbol":"X"}]})", "books[0].venue: must be a string, got 7"},
      {R"([{"venue":"A"}])", "the whole file: must be a JSON object"},
  };
  for (const auto& [json, why] : wrong) {
    std::ofstream(dir / "wrong.json", std::ios::trunc) << json;
    CHECK(std::string(exo::adapters::LoadBookFile(dir / "wrong.json").status().message()) ==
          "book file " + (dir / "wrong.json") + ": " + why);
  }
  CHECK(exo::adapters::LoadBookFile(dir / "none.json").status().code() == absl::StatusCode::kNotFound);
}
