// SPDX-License-Identifier: Apache-2.0
// IKEv2 engine pair: INFORMATIONAL exchanges (RFC 7296 §1.4, §1.5) from either
// side, the failure clean-up of §2.21.2, and half-open expiry.
#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>

#include "ike_test_harness.h"

using namespace ike_test;

namespace {

bool contains(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

// Alice and Bob established with their CHILD SA; returns Alice's SPI.
uint64_t establish(Pair& p) {
  const uint64_t spi = p.start();
  p.run();
  REQUIRE(p.alice.find(spi) != nullptr);
  REQUIRE(first_child(p.alice.find(spi)).state == ChildState::Installed);
  REQUIRE(p.bob_sa() != nullptr);
  REQUIRE(first_child(p.bob_sa()).state == ChildState::Installed);
  REQUIRE(p.sas(p.alice_kernel).size() == 2);
  REQUIRE(p.policies(p.bob_kernel).size() == 3);
  return spi;
}

}  // namespace

TEST_SUITE("ike informational") {
  //   Alice                                    Bob
  //   HDR(mid 2), SK {D(IKE)}            -->
  //                                      <--   HDR(mid 2), SK {}
  TEST_CASE("the initiator deletes the IKE SA: both sides remove it and its CHILD SA") {
    Pair p;
    const uint64_t spi = establish(p);
    REQUIRE(p.alice.delete_ike_sa(spi));
    CHECK(p.kernel_empty(p.alice_kernel));  // removed when the Delete goes out
    CHECK(p.alice.find(spi)->state == IkeState::Deleting);
    p.run();
    CHECK(p.alice.sas().empty());
    CHECK(p.bob.sas().empty());
    CHECK(p.kernel_empty(p.alice_kernel));
    CHECK(p.kernel_empty(p.bob_kernel));
    REQUIRE(p.alice.closed(spi));
    CHECK(p.alice.closed(spi)->state == IkeState::Closed);
    CHECK(p.alice.closed(spi)->reason == "deleted by us");
    REQUIRE(p.bob_closed());
    CHECK(p.bob_closed()->reason == "deleted by peer");
    CHECK(p.alice.counters().ike_deleted == 1);
    CHECK(p.bob.counters().ike_deleted == 1);
    CHECK(p.net.sent.size() == 6);
    CHECK_FALSE(p.alice.next_timer());
  }

  //   Alice                                    Bob
  //                                      <--   HDR(mid 0, I=0), SK {D(IKE)}
  //   HDR(mid 0, I=1, R), SK {}          -->
  TEST_CASE("the responder deletes the IKE SA with its own message IDs") {
    Pair p;
    const uint64_t spi = establish(p);
    const uint64_t bob_spi = p.bob_sa()->spi_r;
    REQUIRE(p.bob.delete_ike_sa(bob_spi));
    REQUIRE(p.net.queue.size() == 1);
    auto req = wire::parse(p.net.queue.front().data);
    REQUIRE(req);
    CHECK(req->header.message_id == 0);  // Bob's first request
    CHECK_FALSE(req->header.initiator);  // Bob is the original responder
    p.run();
    CHECK(p.alice.sas().empty());
    CHECK(p.bob.sas().empty());
    CHECK(p.kernel_empty(p.alice_kernel));
    CHECK(p.kernel_empty(p.bob_kernel));
    CHECK(p.alice.closed(spi)->reason == "deleted by peer");
    CHECK(p.bob.closed(bob_spi)->reason == "deleted by us");
    auto resp = wire::parse(p.net.sent.back().data);
    REQUIRE(resp);
    CHECK(resp->header.response);
    CHECK(resp->header.initiator);
    CHECK(resp->header.message_id == 0);
  }

  //   Alice                                    Bob
  //   HDR, SK {D(ESP, Alice's SPIin)}    -->
  //                                      <--   HDR, SK {D(ESP, Bob's SPIin)}
  TEST_CASE("the initiator deletes the CHILD SA: both pairs and their policies go") {
    Pair p;
    const uint64_t spi = establish(p);
    CHECK_FALSE(p.alice.delete_child_sa(spi, 0x1234));  // not ours
    REQUIRE(p.alice.delete_child_sa(spi, first_child(p.alice.find(spi)).spi_in));
    p.run();
    CHECK(p.kernel_empty(p.alice_kernel));
    CHECK(p.kernel_empty(p.bob_kernel));
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(p.bob_sa()->state == IkeState::Established);
    CHECK(first_child(p.alice.find(spi)).state == ChildState::Deleted);
    CHECK(first_child(p.bob_sa()).state == ChildState::Deleted);
    CHECK(p.alice.counters().child_deleted == 1);
    CHECK(p.bob.counters().child_deleted == 1);
    // The IKE SA still works.
    REQUIRE(p.alice.check_liveness(spi));
    p.run();
    CHECK(p.bob.counters().liveness_answered == 1);
  }

  TEST_CASE("the responder deletes the CHILD SA") {
    Pair p;
    const uint64_t spi = establish(p);
    const IkeSa* b = p.bob_sa();
    REQUIRE(p.bob.delete_child_sa(b->spi_r, first_child(b).spi_in));
    p.run();
    CHECK(p.kernel_empty(p.alice_kernel));
    CHECK(p.kernel_empty(p.bob_kernel));
    CHECK(first_child(p.alice.find(spi)).state == ChildState::Deleted);
    CHECK(p.alice.counters().child_deleted == 1);
  }

  TEST_CASE("liveness both ways: separate message ID counters per direction (§2.2)") {
    Pair p;
    const uint64_t spi = establish(p);
    const uint64_t bob_spi = p.bob_sa()->spi_r;
    REQUIRE(p.bob.check_liveness(bob_spi));
    p.run();
    REQUIRE(p.alice.check_liveness(spi));
    p.run();
    REQUIRE(p.alice.check_liveness(spi));
    p.run();
    const IkeSa* a = p.alice.find(spi);
    const IkeSa* b = p.bob_sa();
    CHECK(a->next_request_mid == 4);      // SA_INIT 0, AUTH 1, liveness 2 and 3
    CHECK(a->expected_request_mid == 1);  // Bob's liveness 0
    CHECK(b->next_request_mid == 1);
    CHECK(b->expected_request_mid == 4);
    CHECK(p.alice.counters().liveness_answered == 1);
    CHECK(p.bob.counters().liveness_answered == 2);
    CHECK_FALSE(p.alice.next_timer());
    CHECK_FALSE(p.bob.next_timer());
    CHECK(p.sas(p.alice_kernel).size() == 2);
  }

  TEST_CASE("a lost INFORMATIONAL response: the retransmission is answered from the cache") {
    Pair p;
    const uint64_t spi = establish(p);
    const size_t first = p.net.sent.size() + 1;  // Bob's answer to the liveness check
    p.net.filter = [first](const Packet&, size_t i) { return i == first ? 0 : 1; };
    REQUIRE(p.alice.check_liveness(spi));
    p.run();
    CHECK(p.alice.find(spi)->awaiting_response);
    p.advance(Millis(1000));
    CHECK_FALSE(p.alice.find(spi)->awaiting_response);
    CHECK(p.alice.counters().retransmits == 1);
    CHECK(p.bob.counters().duplicates_answered == 1);
    CHECK(p.bob.counters().liveness_answered == 1);
  }

  TEST_CASE("window 1: a second request waits for the answer to the first") {
    Pair p;
    const uint64_t spi = establish(p);
    REQUIRE(p.alice.check_liveness(spi));
    REQUIRE(p.alice.delete_child_sa(spi, first_child(p.alice.find(spi)).spi_in));
    CHECK(p.net.queue.size() == 1);
    p.run();
    CHECK(p.bob.counters().liveness_answered == 1);
    CHECK(p.bob.counters().child_deleted == 1);
    CHECK(p.kernel_empty(p.bob_kernel));
    CHECK(p.kernel_empty(p.alice_kernel));
  }

  TEST_CASE("peer not responding to a request: the IKE SA fails and its state goes") {
    Pair p;
    const uint64_t spi = establish(p);
    p.net.filter = [](const Packet&, size_t) { return 0; };
    REQUIRE(p.alice.check_liveness(spi));
    for (long ms : {1000, 2000, 4000, 8000, 16000, 32000}) p.advance(Millis(ms));
    CHECK(p.alice.find(spi) == nullptr);
    REQUIRE(p.alice.closed(spi));
    CHECK(p.alice.closed(spi)->state == IkeState::Failed);
    CHECK(contains(p.alice.closed(spi)->reason, "peer not responding"));
    CHECK(p.alice.counters().timeouts == 1);
    CHECK(p.kernel_empty(p.alice_kernel));
    CHECK(p.sas(p.bob_kernel).size() == 2);  // Bob has not noticed yet
  }

  TEST_CASE("a Delete that gets no answer still removes our side") {
    Pair p;
    const uint64_t spi = establish(p);
    p.net.filter = [](const Packet&, size_t) { return 0; };
    REQUIRE(p.alice.delete_ike_sa(spi));
    for (long ms : {1000, 2000, 4000, 8000, 16000, 32000}) p.advance(Millis(ms));
    CHECK(p.alice.sas().empty());
    CHECK(p.alice.closed(spi)->state == IkeState::Closed);
    CHECK(p.kernel_empty(p.alice_kernel));
  }
}

TEST_SUITE("ike failure clean-up") {
  //   Alice                                    Bob
  //   HDR, SK {IDi, AUTH, SAi2, TSi, TSr} -->
  //                                      <--   HDR, SK {IDr, AUTH, SAr2, TSi, TSr}
  //   (IDr is not who Alice expects)
  //   HDR, SK {D(IKE)}                   -->
  //                                      <--   HDR, SK {}
  TEST_CASE("the initiator rejects the responder's AUTH: a Delete cleans up the responder") {
    Pair p;
    p.alice_config.remote_id = Identity::fqdn("mallory.example");
    const uint64_t spi = p.start();
    p.run();
    CHECK(p.alice.sas().empty());
    CHECK(p.bob.sas().empty());
    CHECK(p.kernel_empty(p.alice_kernel));
    CHECK(p.kernel_empty(p.bob_kernel));
    REQUIRE(p.alice.closed(spi));
    CHECK(p.alice.closed(spi)->state == IkeState::Failed);
    CHECK(contains(p.alice.closed(spi)->reason, "peer identity fqdn:bob.example is not"));
    REQUIRE(p.bob_closed());
    CHECK(p.bob_closed()->reason == "deleted by peer");
    CHECK(p.bob_closed()->child_state == ChildState::Deleted);  // installed, then deleted
    CHECK(p.alice.counters().auth_failed == 1);
  }

  //   HDR, SK {D(ESP, Alice's SPIin)}    -->   (Alice could not install the CHILD SA)
  //                                      <--   HDR, SK {D(ESP, Bob's SPIin)}
  TEST_CASE("the initiator cannot use the responder's CHILD SA: a Delete removes it there") {
    Pair p;
    p.alice_kernel.fail_next("adding", EEXIST);
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    REQUIRE(a);
    CHECK(a->state == IkeState::Established);
    CHECK(first_child(a).state == ChildState::Failed);
    CHECK(p.bob_sa()->state == IkeState::Established);
    CHECK(first_child(p.bob_sa()).state == ChildState::Deleted);
    CHECK(p.kernel_empty(p.alice_kernel));
    CHECK(p.kernel_empty(p.bob_kernel));
    CHECK(p.bob.counters().child_deleted == 1);
    CHECK(p.alice.counters().kernel_errors == 1);
  }

  TEST_CASE("a half-open responder SA expires after 30 s and is removed") {
    Pair p;
    // Only Alice's first IKE_SA_INIT reaches Bob: no IKE_AUTH ever arrives.
    p.net.filter = [](const Packet& pk, size_t i) {
      return pk.to.addr == ip("192.0.2.2") && i != 0 ? 0 : 1;
    };
    p.start();
    p.run();
    REQUIRE(p.bob_sa());
    CHECK(p.bob_sa()->state == IkeState::SaInitDone);
    CHECK(p.bob.next_timer() == Millis(30000));
    p.advance(Millis(29999));
    CHECK(p.bob.sas().size() == 1);
    p.advance(Millis(1));
    CHECK(p.bob.sas().empty());
    CHECK(p.bob.counters().half_open_expired == 1);
    REQUIRE(p.bob_closed());
    CHECK(contains(p.bob_closed()->reason, "half-open IKE SA expired"));
    CHECK_FALSE(p.bob.next_timer());
  }
}
