// SPDX-License-Identifier: Apache-2.0
// IKEv2 INITIAL_CONTACT (RFC 7296 §2.4): a restarted initiator's new IKE SA
// replaces the ones the responder still holds for that identity.
#include <doctest/doctest.h>

#include <cstring>

#include "ike_test_harness.h"

using namespace ike_test;

namespace {

// Delivers queued datagrams, Alice's address going to `alice` (a restarted
// engine) instead of p.alice.
void run_with(Pair& p, Engine& alice) {
  while (!p.net.queue.empty()) {
    Packet pk = std::move(p.net.queue.front());
    p.net.queue.pop_front();
    Engine& to = pk.to.addr == p.alice_config.local.addr ? alice : p.bob;
    to.on_datagram(pk.to, pk.from, pk.data);
  }
}

}  // namespace

TEST_SUITE("ike initial contact") {
  //   Alice (restarted)                                        Bob
  //   HDR, SK {IDi, AUTH, N(INITIAL_CONTACT), SAi2, TSi, TSr} -->
  //                         (Bob drops his old IKE SA with alice.example and its CHILD SA)
  //                                                          <--  HDR, SK {IDr, AUTH, SAr2, ...}
  TEST_CASE("a restarted peer's INITIAL_CONTACT replaces its old IKE SA and CHILD SA") {
    Pair p;
    const uint64_t old_spi = p.start();
    p.run();
    REQUIRE(p.alice.find(old_spi)->state == IkeState::Established);
    CHECK(p.alice.find(old_spi)->initial_contact);  // Alice had no other IKE SA with Bob
    const uint64_t bob_old = p.bob_sa()->spi_r;
    const uint32_t old_spi_in = first_child(p.bob_sa()).spi_in;

    kernel::MemoryKernel restarted_kernel;
    Engine restarted{p.net, restarted_kernel, p.clock};
    restarted.add_connection(p.alice_config);
    auto spi = restarted.initiate(p.alice_config.name);
    REQUIRE(spi);
    run_with(p, restarted);

    REQUIRE(restarted.find(*spi));
    CHECK(restarted.find(*spi)->state == IkeState::Established);
    CHECK(first_child(restarted.find(*spi)).state == ChildState::Installed);
    REQUIRE(p.bob.sas().size() == 1);
    const IkeSa* b = p.bob.sas().front();
    CHECK(b->spi_r != bob_old);
    CHECK(first_child(b).state == ChildState::Installed);
    CHECK(first_child(b).spi_in != old_spi_in);
    REQUIRE(p.bob.closed(bob_old));
    CHECK(p.bob.closed(bob_old)->state == IkeState::Closed);
    CHECK(p.bob.closed(bob_old)->reason.find("INITIAL_CONTACT") != std::string::npos);
    CHECK(p.bob.counters().initial_contact_closed == 1);
    // Only the new CHILD SA is left in Bob's kernel.
    auto bs = p.sas(p.bob_kernel);
    REQUIRE(bs.size() == 2);
    for (const auto& s : bs)
      if (s.dst == ip("192.0.2.2")) CHECK(s.spi == first_child(b).spi_in);  // inbound: the new one
    CHECK(p.policies(p.bob_kernel).size() == 3);
  }

  TEST_CASE("a second IKE SA to the same peer carries no INITIAL_CONTACT") {
    Pair p;
    const uint64_t first = p.start();
    auto second = p.alice.initiate(p.alice_config.name);
    REQUIRE(second);
    CHECK(p.alice.find(first)->initial_contact);
    CHECK_FALSE(p.alice.find(*second)->initial_contact);
  }
}
