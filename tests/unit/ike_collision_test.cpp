// SPDX-License-Identifier: Apache-2.0
// Rekey collisions (RFC 7296 §2.8.1, §2.8.2) on an engine pair with deterministic
// randomness: each test scripts which nonce is the lowest, then asserts the exact outcome:
// whose new SA stands, which ESP SAs each kernel holds, which events each side reports.
#include <doctest/doctest.h>

#include "ike/v2/exchanges.h"
#include "ike_test_harness.h"

using namespace ike_test;
using namespace std::chrono_literals;

namespace {

EspProposalConfig esp_gcm_x25519() {
  EspProposalConfig e = esp_gcm();
  e.dh = {wire::DhGroup::Curve25519};
  return e;
}

// Which of the four nonces of two crossing CHILD rekeys is the lowest.
enum class Lowest { AliceNi, BobNr, BobNi, AliceNr };

const char* name(Lowest l) {
  switch (l) {
    case Lowest::AliceNi:
      return "Alice's Ni (her exchange is redundant)";
    case Lowest::BobNr:
      return "Bob's Nr (Alice's exchange is redundant)";
    case Lowest::BobNi:
      return "Bob's Ni (his exchange is redundant)";
    case Lowest::AliceNr:
      return "Alice's Nr (Bob's exchange is redundant)";
  }
  return "";
}

// Nonce leads in the order each side makes its nonces: its own request's Ni, then the Nr
// of its answer to the peer's request.
void script(LifecyclePair& p, Lowest low) {
  const uint8_t a_ni = low == Lowest::AliceNi ? 0x01 : 0x90;
  const uint8_t b_nr = low == Lowest::BobNr ? 0x01 : 0xa0;
  const uint8_t b_ni = low == Lowest::BobNi ? 0x01 : 0xb0;
  const uint8_t a_nr = low == Lowest::AliceNr ? 0x01 : 0xc0;
  p.alice_random.script_nonce_lead(a_ni);
  p.alice_random.script_nonce_lead(a_nr);
  p.bob_random.script_nonce_lead(b_ni);
  p.bob_random.script_nonce_lead(b_nr);
}

uint32_t inbound_spi(const std::vector<kernel::SaParams>& sas, const IpAddress& dst) {
  for (const auto& s : sas)
    if (s.dst == dst) return s.spi;
  return 0;
}

}  // namespace

TEST_SUITE("ike collisions") {
  //   Alice                                          Bob
  //   CREATE_CHILD_SA {N(REKEY_SA), SA, Ni_A, TS} -->
  //                     <-- CREATE_CHILD_SA {N(REKEY_SA), SA, Ni_B, TS}
  //   both answer: {SA, Nr, TS}; the SA whose exchange has the lowest nonce of the four
  //   is redundant and its creator (the exchange's initiator) deletes it; the other
  //   initiator deletes the old pair.
  TEST_CASE("simultaneous CHILD rekeys: the exchange with the lowest nonce loses (§2.8.1)") {
    for (bool pfs : {false, true})
      for (Lowest low : {Lowest::AliceNi, Lowest::BobNr, Lowest::BobNi, Lowest::AliceNr}) {
        CAPTURE(pfs);
        const std::string lowest = name(low);
        CAPTURE(lowest);
        LifecyclePair p;
        if (pfs) {
          p.alice_config.children[0].proposals = {esp_gcm_x25519()};
          p.bob_config.children[0].proposals = {esp_gcm_x25519()};
        }
        const uint64_t spi = p.start();
        p.run();
        const IkeSa* a = p.alice.find(spi);
        const IkeSa* b = p.only(p.bob);
        const uint32_t old_a = a->children.front().spi_in, old_b = b->children.front().spi_in;
        script(p, low);
        REQUIRE(p.alice.rekey_child_sa(spi, old_a));
        REQUIRE(p.bob.rekey_child_sa(b->local_spi(), old_b));
        // The inbound SPI each side allocated for its own request's CHILD SA.
        const uint32_t alice_new = a->creating->new_spi_in, bob_new = b->creating->new_spi_in;
        p.run();
        p.live(10s);
        p.check_steady();
        const bool alice_wins = low == Lowest::BobNi || low == Lowest::AliceNr;
        const ChildSa& ca = p.only(p.alice)->children.front();
        const ChildSa& cb = p.only(p.bob)->children.front();
        // The winner's exchange made the surviving pair: its initiator's inbound SPI.
        if (alice_wins) {
          CHECK(ca.spi_in == alice_new);
          CHECK(cb.spi_out == alice_new);
        } else {
          CHECK(cb.spi_in == bob_new);
          CHECK(ca.spi_out == bob_new);
        }
        CHECK(ca.replaces == old_a);
        CHECK(cb.replaces == old_b);
        CHECK(ca.proposal.transforms.size() == cb.proposal.transforms.size());
        CHECK(transform_of(ca.proposal, wire::TransformType::Dh).has_value() == pfs);
        // Exactly that pair in each kernel: the old pair and the redundant one are gone.
        CHECK(inbound_spi(p.esp(p.alice_kernel), ip("192.0.2.1")) == ca.spi_in);
        CHECK(inbound_spi(p.esp(p.bob_kernel), ip("192.0.2.2")) == cb.spi_in);
        // One rekey reported on each side, nothing reported down.
        CHECK(p.count(p.alice_events, EventKind::ChildRekeyed) == 1);
        CHECK(p.count(p.bob_events, EventKind::ChildRekeyed) == 1);
        CHECK(p.count(p.alice_events, EventKind::ChildDown) == 0);
        CHECK(p.count(p.bob_events, EventKind::ChildDown) == 0);
      }
  }

  //   CREATE_CHILD_SA {SA(IKE), Ni, KE} crossing from both sides (§2.8.2): the side whose
  //   nonce is lower yields and answers; the other answers TEMPORARY_FAILURE. The yielding
  //   side's request therefore fails, and the other side's rekey stands.
  TEST_CASE("simultaneous IKE SA rekeys: the side with the higher nonce's rekey stands") {
    for (bool alice_higher : {true, false}) {
      CAPTURE(alice_higher);
      LifecyclePair p;
      const uint64_t spi = p.start();
      p.run();
      const ChildSa child = first_child(p.alice.find(spi));
      const IkeSa* b = p.only(p.bob);
      const uint64_t bob_spi = b->local_spi();
      p.alice_random.script_nonce_lead(alice_higher ? 0xf0 : 0x10);
      p.bob_random.script_nonce_lead(alice_higher ? 0x10 : 0xf0);
      REQUIRE(p.alice.rekey_ike_sa(spi));
      REQUIRE(p.bob.rekey_ike_sa(bob_spi));
      const uint64_t alice_new = p.alice.find(spi)->creating->new_ike_spi;
      const uint64_t bob_new = b->creating->new_ike_spi;
      p.run();
      p.live(12s);
      p.check_steady();
      const IkeSa *na = p.only(p.alice), *nb = p.only(p.bob);
      // The winner initiated the new IKE SA: it is its original initiator, with its SPI.
      CHECK(na->initiator == alice_higher);
      CHECK(nb->initiator == !alice_higher);
      if (alice_higher) {
        CHECK(na->spi_i == alice_new);
      } else {
        CHECK(nb->spi_i == bob_new);
      }
      CHECK(na->replaces == spi);
      CHECK(nb->replaces == bob_spi);
      // The CHILD SA moved over unchanged; no second new IKE SA was made on either side.
      CHECK(na->children.front().spi_in == child.spi_in);
      CHECK(na->children.front().spi_out == child.spi_out);
      CHECK(p.count(p.alice_events, EventKind::IkeRekeyed) == 1);
      CHECK(p.count(p.bob_events, EventKind::IkeRekeyed) == 1);
      CHECK(p.count(p.alice_events, EventKind::IkeDown) == 0);
      CHECK(p.count(p.bob_events, EventKind::IkeDown) == 0);
      // The loser's request got TEMPORARY_FAILURE and was not retried on the old SA.
      CHECK(p.alice.closed_sas().size() == 1);
      CHECK(p.bob.closed_sas().size() == 1);
    }
  }
}
