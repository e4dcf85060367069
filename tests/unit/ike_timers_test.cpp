// SPDX-License-Identifier: Apache-2.0
// The engines' timer set (ike/timers.h): one deadline per SA, due ones taken earliest first,
// changed and cleared deadlines never fire at their old time.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "ike/timers.h"

using ipsec::ike::Millis;
using ipsec::ike::TimerSet;

TEST_SUITE("ike timers") {
  TEST_CASE("due deadlines come out earliest first, once") {
    TimerSet t;
    t.set(1, Millis{300});
    t.set(2, Millis{100});
    t.set(3, Millis{200});
    CHECK(t.next() == Millis{100});
    CHECK(t.take_due(Millis{99}).empty());
    CHECK(t.take_due(Millis{200}) == std::vector<uint64_t>{2, 3});
    CHECK(t.take_due(Millis{200}).empty());
    CHECK(t.next() == Millis{300});
    CHECK(t.size() == 1);
  }

  TEST_CASE("a moved or cleared deadline does not fire at its old time") {
    TimerSet t;
    t.set(1, Millis{100});
    t.set(1, Millis{500});  // moved later
    t.set(2, Millis{100});
    t.clear(2);
    CHECK(t.next() == Millis{500});
    CHECK(t.take_due(Millis{400}).empty());
    t.set(1, Millis{50});  // moved earlier
    CHECK(t.take_due(Millis{60}) == std::vector<uint64_t>{1});
    CHECK_FALSE(t.next());
    CHECK(t.take_due(Millis{1000}).empty());
  }

  TEST_CASE("against a plain map: 20000 random sets, clears and takes") {
    TimerSet t;
    std::map<uint64_t, Millis> model;
    std::mt19937_64 rng(7);
    Millis now{0};
    for (int i = 0; i < 20000; ++i) {
      const uint64_t spi = rng() % 64;
      switch (rng() % 4) {
        case 0:
          t.clear(spi);
          model.erase(spi);
          break;
        case 1: {
          now += Millis(static_cast<int64_t>(rng() % 50));
          std::vector<std::pair<Millis, uint64_t>> want;
          for (auto it = model.begin(); it != model.end();)
            if (it->second <= now) {
              want.emplace_back(it->second, it->first);
              it = model.erase(it);
            } else {
              ++it;
            }
          std::sort(want.begin(), want.end());
          std::vector<uint64_t> spis;
          for (const auto& w : want) spis.push_back(w.second);
          REQUIRE(t.take_due(now) == spis);
          break;
        }
        default: {
          const Millis at = now + Millis(static_cast<int64_t>(rng() % 500));
          t.set(spi, at);
          model[spi] = at;
        }
      }
      std::optional<Millis> earliest;
      for (const auto& [s, at] : model)
        if (!earliest || at < *earliest) earliest = at;
      REQUIRE(t.next() == earliest);
    }
  }
}

#include "ike/sa_table.h"

namespace {
struct FakeSa {
  bool half_open = false;
  std::optional<Millis> due;
};
}  // namespace

TEST_SUITE("ike sa table") {
  TEST_CASE("touched SAs are rescheduled: deadlines, half-open marks, removal forgets both") {
    ipsec::ike::SaTable<FakeSa> t;
    t.add(7, std::make_unique<FakeSa>(FakeSa{true, Millis{100}}));
    t.add(3, std::make_unique<FakeSa>(FakeSa{false, Millis{50}}));
    t.touch(7);
    CHECK(t.touched() == std::vector<uint64_t>{3, 7});
    auto deadline = [](const FakeSa& sa) { return sa.due; };
    auto half_open = [](const FakeSa& sa) { return sa.half_open; };
    t.reschedule(deadline, half_open);
    CHECK(t.touched().empty());
    CHECK(t.half_open() == std::set<uint64_t>{7});
    CHECK(t.next_timer() == Millis{50});
    // An SA that changed without being touched keeps its old schedule until the sweep.
    t.get(3)->due = Millis{500};
    CHECK(t.next_timer() == Millis{50});
    t.touch_all();
    t.reschedule(deadline, half_open);
    CHECK(t.next_timer() == Millis{100});
    t.erase(t.find(7));
    t.reschedule(deadline, half_open);
    CHECK(t.half_open().empty());
    CHECK(t.next_timer() == Millis{500});
    CHECK(t.take_due(Millis{1000}) == std::vector<uint64_t>{3});
    CHECK(t.size() == 1);
  }
}
