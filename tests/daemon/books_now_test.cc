// RouterEngine::BooksNow (AdminService.GetBooks): the books a node holds now, as an executed
// order decided now reads them — each venue that lists the symbol, its levels to the depth
// asked, and the reason a buy or a sell would record for leaving it out (a stale book, an
// operator's halt), with the best bid and ask over the venues it would use only.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>

#include "daemon/router_engine.h"
#include "exo/slewed_wall_clock.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_engine.h"

using exo::daemon::RouterEngine;
using namespace exoroute::v1;  // NOLINT

namespace {

// The system clock as a test sets it: the real one, `g_set_back_ns` behind.
std::atomic<int64_t> g_set_back_ns{0};

int64_t ReadNs(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
int64_t SetBackWall() { return ReadNs(CLOCK_REALTIME) - g_set_back_ns.load(); }
int64_t Steady() { return ReadNs(CLOCK_MONOTONIC); }

}  // namespace

TEST_CASE("the books now: every venue of the symbol, to the depth asked, and why a side would leave one out",
          "[books]") {
  exo::testing::TempDir dir;
  auto config = exo::testing::TestNodeConfig(dir.path());
  REQUIRE(config.ok());
  // SIM-C publishes its first book and then nothing for a minute: 50 ms later it is stale.
  VenueConfig* c = config->mutable_venues(2);
  REQUIRE(c->id() == "SIM-C");
  c->mutable_sim()->set_update_interval_ms(60'000);
  c->set_max_book_age_ms(50);
  auto node = exo::testing::StartTestEngine(*config);
  REQUIRE(node.ok());
  RouterEngine& engine = *node->engine;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  absl::StatusOr<GetBooksResponse> books = engine.BooksNow("BTC-USD", 2);
  REQUIRE(books.ok());
  CHECK(books->instrument().symbol() == "BTC-USD");
  REQUIRE(books->venues_size() == 3);
  int64_t best_bid = 0, best_ask = 0;
  for (int i = 0; i < 3; ++i) {
    const VenueBookView& v = books->venues(i);
    INFO(v.venue());
    CHECK(v.venue() == std::string("SIM-") + static_cast<char>('A' + i));
    CHECK(v.book().bids_size() == 2);
    CHECK(v.book().asks_size() == 2);
    CHECK(v.book().bids(0).price() > v.book().bids(1).price());
    CHECK(v.book().asks(0).price() < v.book().asks(1).price());
    CHECK(v.fee_bps() == config->venues(i).taker_fee_bps());
    if (v.venue() == "SIM-C") {
      CHECK(v.age_ms() >= 50);
      CHECK(v.buy_exclusion().rfind("book stale", 0) == 0);
      CHECK(v.sell_exclusion().rfind("book stale", 0) == 0);
      continue;
    }
    CHECK(v.age_ms() < 50'000);
    CHECK(v.buy_exclusion().empty());
    CHECK(v.sell_exclusion().empty());
    best_bid = std::max(best_bid, v.book().bids(0).price());
    best_ask = best_ask == 0 ? v.book().asks(0).price() : std::min(best_ask, v.book().asks(0).price());
  }
  // Over SIM-A and SIM-B only: SIM-C's stale book values nothing.
  CHECK(books->best_bid() == best_bid);
  CHECK(books->best_ask() == best_ask);

  // A venue an operator halted: both sides leave it out, saying so; the best prices go without it.
  REQUIRE(engine.SetTrading(true, "venue check", RouterEngine::TradingScope::Venue("SIM-A")).ok());
  books = engine.BooksNow("BTC-USD", 1);
  REQUIRE(books.ok());
  const VenueBookView& a = books->venues(0);
  CHECK(a.buy_exclusion().find("halted by an operator") != std::string::npos);
  CHECK(a.buy_exclusion().find("venue check") != std::string::npos);
  CHECK(a.sell_exclusion() == a.buy_exclusion());
  CHECK(a.book().asks_size() == 1);  // Its book is shown all the same.
  CHECK(books->best_ask() == books->venues(1).book().asks(0).price());
  CHECK(books->best_bid() == books->venues(1).book().bids(0).price());

  // ETH-USD is listed by SIM-A and SIM-B only; a symbol the node does not trade is named.
  books = engine.BooksNow("ETH-USD", 5);
  REQUIRE(books.ok());
  REQUIRE(books->venues_size() == 2);
  CHECK(books->venues(0).book().bids_size() == 5);
  absl::StatusOr<GetBooksResponse> none = engine.BooksNow("XRP-USD", 5);
  CHECK(none.status().code() == absl::StatusCode::kNotFound);
  CHECK(none.status().message() == "symbol: unknown symbol \"XRP-USD\" (this node trades: BTC-USD, ETH-USD)");
}

TEST_CASE("a book stale before the system clock steps back stays stale after the step", "[books][clock]") {
  exo::testing::TempDir dir;
  auto config = exo::testing::TestNodeConfig(dir.path());
  REQUIRE(config.ok());
  VenueConfig* c = config->mutable_venues(2);
  REQUIRE(c->id() == "SIM-C");
  c->mutable_sim()->set_update_interval_ms(60'000);  // Its first book, then nothing for a minute.
  c->set_max_book_age_ms(50);
  exo::SlewedWallClock clock({&SetBackWall, &Steady});  // What exo::SystemClock() is, over this test's clocks.
  exo::testing::TestEngineHooks hooks;
  hooks.clock = &clock;
  auto node = exo::testing::StartTestEngine(*config, hooks);
  REQUIRE(node.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  absl::StatusOr<GetBooksResponse> books = node->engine->BooksNow("BTC-USD", 1);
  REQUIRE(books.ok());
  REQUIRE(books->venues(2).buy_exclusion().rfind("book stale", 0) == 0);

  // An operator sets the system clock 10 s back. Read on the system clock, SIM-C's book would
  // be 9.8 s in the future, and "fresh".
  g_set_back_ns = 10'000'000'000;
  books = node->engine->BooksNow("BTC-USD", 1);
  REQUIRE(books.ok());
  const VenueBookView& stale = books->venues(2);
  CHECK(stale.age_ms() >= 200);
  CHECK(stale.buy_exclusion().rfind("book stale", 0) == 0);
  CHECK(stale.sell_exclusion().rfind("book stale", 0) == 0);
  // The venues that keep publishing stay in use (their books are stamped on the node's clock).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  books = node->engine->BooksNow("BTC-USD", 1);
  REQUIRE(books.ok());
  CHECK(books->venues(0).buy_exclusion().empty());
  CHECK(books->venues(1).buy_exclusion().empty());
  CHECK(clock.AheadOfSystemNs() > 9'000'000'000);
}
