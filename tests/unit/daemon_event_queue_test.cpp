// SPDX-License-Identifier: Apache-2.0
// Engine events from worker threads to ipsecd's main loop: nothing queued while nobody
// listens; stamped and converted to the protocol's event; taken in bounded batches with
// the eventfd readable while more wait; beyond kMaxQueued dropped and counted.
#include <doctest/doctest.h>
#include <poll.h>

#include <thread>

#include "daemon/event_queue.h"

using namespace ipsec;

namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

ike::EngineEvent rekeyed(uint32_t spi) {
  ike::EngineEvent e;
  e.kind = ike::EventKind::ChildRekeyed;
  e.connection = "to-right";
  e.child = "lan";
  e.ike_spi = 0x0123456789abcdefULL;
  e.spi_in = spi;
  e.spi_out = spi + 0x01000000;
  e.old_spi_in = spi - 1;
  return e;
}

}  // namespace

TEST_CASE("event queue: to the protocol's event, with its kind's name and the time") {
  control::Event c = daemon::to_control(rekeyed(0xc0000002), 1795428000);
  CHECK(c.event == "child-rekeyed");
  CHECK(c.time == "2026-11-23T10:00:00Z");
  CHECK(c.connection == "to-right");
  CHECK(c.child == "lan");
  CHECK(c.ike_spi == 0x0123456789abcdefULL);
  CHECK(c.spi_in == 0xc0000002);
  CHECK(c.spi_out == 0xc1000002);
  CHECK(c.old_spi_in == 0xc0000001);
  ike::EngineEvent down;
  down.kind = ike::EventKind::IkeDown;
  down.reason = "dead peer";
  CHECK(daemon::to_control(down, 0).event == "ike-down");
  CHECK(daemon::to_control(down, 0).reason == "dead peer");
  ike::EngineEvent acq;
  acq.kind = ike::EventKind::Acquire;
  CHECK(daemon::to_control(acq, 0).event == "acquire");
}

TEST_CASE("event queue: only while listening; bounded batches; overflow counted") {
  daemon::EventQueue q;
  REQUIRE(q.open());
  uint64_t dropped = 0;
  q.push(rekeyed(1));
  CHECK_FALSE(readable(q.fd()));
  CHECK(q.take(10, dropped).empty());

  q.set_listening(true);
  std::thread worker([&] {
    for (uint32_t i = 0; i < 25; ++i) q.push(rekeyed(100 + i));
  });
  worker.join();
  CHECK(readable(q.fd()));
  auto first = q.take(10, dropped);
  REQUIRE(first.size() == 10);
  CHECK(first.front().spi_in == 100);  // oldest first
  CHECK(first.back().spi_in == 109);
  CHECK(readable(q.fd()));  // 15 still wait
  CHECK(q.take(10, dropped).size() == 10);
  auto last = q.take(10, dropped);
  CHECK(last.size() == 5);
  CHECK(last.back().spi_in == 124);
  CHECK_FALSE(readable(q.fd()));
  CHECK(dropped == 0);

  for (size_t i = 0; i < daemon::EventQueue::kMaxQueued + 7; ++i) q.push(rekeyed(1));
  size_t got = 0;
  uint64_t lost = 0;
  for (int i = 0; i < 100 && readable(q.fd()); ++i) {
    got += q.take(1000, dropped).size();
    lost += dropped;
  }
  CHECK(got == daemon::EventQueue::kMaxQueued);
  CHECK(lost == 7);
}
