// SPDX-License-Identifier: Apache-2.0
// IKEv2 lifecycle, engine pair on MemoryKernels that follow a fake clock: CHILD SA and IKE
// SA rekeys (either side, both at once, with and without PFS), losses during rekeys,
// lifetimes (the kernel's soft and hard EXPIRE), DPD, close actions, on-demand traps,
// reauthentication, inactivity. After every step the tests check which SAs and policies
// each kernel holds.
#include <doctest/doctest.h>

#include "ike/v2/exchanges.h"
#include "ike_test_harness.h"

using namespace ike_test;
using namespace std::chrono_literals;

namespace {

// Every step: at most the old and the new pair of ESP SAs per kernel, always the three
// tunnel policies (nothing in the clear between rekeys).
void bound_kernels(LifecyclePair& p, size_t& max_sas) {
  p.after_step = [&p, &max_sas] {
    const size_t a = p.esp(p.alice_kernel).size(), b = p.esp(p.bob_kernel).size();
    max_sas = std::max({max_sas, a, b});
    REQUIRE(a <= 4);
    REQUIRE(b <= 4);
    REQUIRE(p.policies(p.alice_kernel).size() == 3);
    REQUIRE(p.policies(p.bob_kernel).size() == 3);
  };
}

EspProposalConfig esp_gcm_x25519() {
  EspProposalConfig e = esp_gcm();
  e.dh = {wire::DhGroup::Curve25519};
  return e;
}

bool has_dh(const wire::Proposal& p) {
  return transform_of(p, wire::TransformType::Dh).has_value();
}

}  // namespace

TEST_SUITE("ike lifecycle") {
  TEST_CASE(
      "a week of tunnel life: CHILD rekeys by the kernel's soft EXPIRE, IKE rekeys by timer") {
    LifecyclePair p;
    for (auto* c : {&p.alice_config, &p.bob_config}) {
      c->children[0].lifetime = {3600s, 3960s, 360s, 0, 0, 0, 0};
      c->ike_lifetime = {14400s, 0s, 1440s, 1440s};
    }
    p.start();
    p.run();
    p.check_steady();
    size_t max_sas = 0;
    bound_kernels(p, max_sas);
    p.live(std::chrono::hours(24 * 7), 5s);
    p.after_step = nullptr;
    p.live(30s);  // let the last exchange finish
    p.check_steady();
    const size_t child_rekeys = p.count(p.alice_events, EventKind::ChildRekeyed);
    const size_t ike_rekeys = p.count(p.alice_events, EventKind::IkeRekeyed);
    MESSAGE("a week: " << child_rekeys << " CHILD rekeys, " << ike_rekeys << " IKE rekeys, at most "
                       << max_sas << " ESP SAs in a kernel");
    // Soft lifetime 54..60 min: 168..187 rekeys; IKE 3.6..4 h: 42..47.
    CHECK(child_rekeys >= 160);
    CHECK(child_rekeys <= 190);
    CHECK(ike_rekeys >= 40);
    CHECK(ike_rekeys <= 48);
    // Soft EXPIREs on both sides in the same step collide (§2.8.1); the winner also reports
    // the peer's redundant SA it answered, so the counts may differ by the collisions.
    const size_t bob_rekeys = p.count(p.bob_events, EventKind::ChildRekeyed);
    MESSAGE("Bob saw " << bob_rekeys << " CHILD rekeys");
    CHECK(bob_rekeys + 10 >= child_rekeys);
    CHECK(bob_rekeys <= child_rekeys + 10);
    CHECK(p.count(p.bob_events, EventKind::IkeRekeyed) == ike_rekeys);
    // Mostly each exchange completes within one step; a postponed one (TEMPORARY_FAILURE
    // after a collision) can leave old and new side by side across steps, never more.
    CHECK(max_sas <= 4);
    // Never a hard expiry, never a CHILD SA or IKE SA lost.
    CHECK(p.count(p.alice_events, EventKind::ChildDown) == 0);
    CHECK(p.count(p.bob_events, EventKind::ChildDown) == 0);
    CHECK(p.count(p.alice_events, EventKind::IkeDown) == 0);
    CHECK(p.count(p.bob_events, EventKind::IkeDown) == 0);
    // Both sides started rekeys (jitter decides who is first).
    size_t by_alice = 0;
    for (const auto& e : p.alice_events) by_alice += e.kind == EventKind::ChildRekeyed;
    CHECK(p.alice.counters().retransmits == 0);
  }

  TEST_CASE("CHILD rekey from either side, with and without PFS") {
    for (bool pfs : {false, true})
      for (bool from_alice : {true, false}) {
        CAPTURE(pfs);
        CAPTURE(from_alice);
        LifecyclePair p;
        if (pfs) {
          p.alice_config.children[0].proposals = {esp_gcm_x25519()};
          p.bob_config.children[0].proposals = {esp_gcm_x25519()};
        }
        const uint64_t spi = p.start();
        p.run();
        p.check_steady();
        const uint32_t old_a = first_child(p.alice.find(spi)).spi_in;
        const uint32_t old_b = first_child(p.only(p.bob)).spi_in;
        Engine& who = from_alice ? p.alice : p.bob;
        const IkeSa* sa = p.only(who);
        REQUIRE(who.rekey_child_sa(sa->local_spi(), sa->children.front().spi_in));
        p.run();
        p.check_steady();
        const ChildSa a = first_child(p.only(p.alice)), b = first_child(p.only(p.bob));
        CHECK(a.spi_in != old_a);
        CHECK(b.spi_in != old_b);
        CHECK(has_dh(a.proposal) == pfs);
        CHECK(has_dh(b.proposal) == pfs);
        CHECK(p.count(p.alice_events, EventKind::ChildRekeyed) == 1);
        CHECK(p.count(p.bob_events, EventKind::ChildRekeyed) == 1);
        CHECK(a.replaces == old_a);
      }
  }

  TEST_CASE(
      "make-before-break: the rekey responder sends on the new SA only after the old is deleted") {
    LifecyclePair p;
    const uint64_t spi = p.start();
    p.run();
    const uint32_t old_out_a = first_child(p.alice.find(spi)).spi_out;
    REQUIRE(p.alice.rekey_child_sa(spi, first_child(p.alice.find(spi)).spi_in));
    // Deliver only Alice's CREATE_CHILD_SA request: Bob answers it.
    REQUIRE(p.net.queue.size() == 1);
    Packet req = p.net.queue.front();
    p.net.queue.pop_front();
    p.bob.on_datagram(req.to, req.from, req.data);
    // Bob: new inbound SA in, new outbound SA not yet; both old ones still there.
    const IkeSa* b = p.only(p.bob);
    REQUIRE(b->children.size() == 2);
    CHECK(b->children.back().outbound_pending);
    CHECK(p.esp(p.bob_kernel).size() == 3);
    // Alice: the response installs both new SAs (4 ESP SAs), then her Delete goes out.
    Packet resp = p.net.queue.front();
    p.net.queue.pop_front();
    p.alice.on_datagram(resp.to, resp.from, resp.data);
    CHECK(p.esp(p.alice_kernel).size() == 4);
    // Traffic from Alice's subnet now leaves on the new outbound SA.
    kernel::Selector pkt;
    pkt.src = prefix("10.1.0.5/32");
    pkt.dst = prefix("10.2.0.7/32");
    auto route = p.alice_kernel.send(pkt);
    REQUIRE(route.fate == kernel::MemoryKernel::Fate::Protected);
    REQUIRE(route.sa);
    CHECK(route.sa->spi != old_out_a);
    // Bob, on Alice's Delete of the old pair: the new outbound SA goes in before the old
    // one goes out; at no moment has he no SA towards Alice.
    auto events = p.bob_kernel.subscribe(kernel::kGroupSa);
    REQUIRE(events);
    p.run();
    auto seen = (*events)->read();
    REQUIRE(seen);
    int outbound = 1, lowest = 1, changes = 0;
    for (const auto& ev : *seen) {
      const auto* c = std::get_if<kernel::SaChangeEvent>(&ev);
      if (c == nullptr) continue;
      const IpAddress dst = c->sa ? c->sa->dst : c->id ? c->id->dst : IpAddress{};
      if (dst != ip("192.0.2.1") || (c->sa && c->sa->spi == 0)) continue;
      if (c->kind == kernel::ChangeKind::New) ++outbound, ++changes;
      if (c->kind == kernel::ChangeKind::Delete) --outbound, ++changes;
      lowest = std::min(lowest, outbound);
    }
    CHECK(changes == 2);
    CHECK(lowest == 1);
    p.check_steady();
  }

  TEST_CASE("losses during rekeys: retransmissions finish the exchange") {
    for (size_t drop : {0u, 1u, 2u, 3u}) {  // request, response, Delete, Delete's answer
      CAPTURE(drop);
      LifecyclePair p;
      const uint64_t spi = p.start();
      p.run();
      const size_t base = p.net.sent.size();
      p.net.filter = [&](const Packet&, size_t i) { return i == base + drop ? 0 : 1; };
      REQUIRE(p.alice.rekey_child_sa(spi, first_child(p.alice.find(spi)).spi_in));
      p.run();
      size_t max_sas = 0;
      bound_kernels(p, max_sas);
      p.live(20s);
      p.check_steady();
      CHECK(p.alice.counters().retransmits >= 1);
      CHECK(p.count(p.alice_events, EventKind::ChildRekeyed) == 1);
    }
    SUBCASE("IKE rekey with its response lost") {
      LifecyclePair p;
      const uint64_t spi = p.start();
      p.run();
      const size_t base = p.net.sent.size();
      p.net.filter = [&](const Packet&, size_t i) { return i == base + 1 ? 0 : 1; };
      REQUIRE(p.alice.rekey_ike_sa(spi));
      p.run();
      p.live(20s);
      p.check_steady();
      CHECK(p.bob.counters().duplicates_answered >= 1);
    }
  }

  TEST_CASE("rekey and delete race: the deleted CHILD SA is not resurrected") {
    LifecyclePair p;
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* b = p.only(p.bob);
    REQUIRE(p.alice.rekey_child_sa(spi, first_child(p.alice.find(spi)).spi_in));
    REQUIRE(p.bob.delete_child_sa(b->local_spi(), b->children.front().spi_in));
    p.run();
    p.live(10s);
    // Whatever the order, both kernels agree: either no CHILD SA, or one pair, crossed.
    auto ak = p.esp(p.alice_kernel), bk = p.esp(p.bob_kernel);
    CHECK(ak.size() == bk.size());
    CHECK(ak.size() <= 2);
    const IkeSa* a = p.only(p.alice);
    REQUIRE(a != nullptr);
    for (const auto& c : a->children)
      if (child_in_kernel(c)) {
        const ChildSa cb = first_child(p.only(p.bob));
        CHECK(c.spi_out == cb.spi_in);
      }
    CHECK(p.bob.counters().dropped_unexpected == 0);
  }

  TEST_CASE("no rekey possible: the hard EXPIRE removes the CHILD SA on both sides") {
    LifecyclePair p;
    for (auto* c : {&p.alice_config, &p.bob_config})
      c->children[0].lifetime = {60s, 90s, 0s, 0, 0, 0, 0};
    p.start();
    p.run();
    // Every CREATE_CHILD_SA request is lost from now on (INFORMATIONAL passes).
    p.net.filter = [](const Packet& pk, size_t) {
      auto m = wire::parse(pk.data);
      return m && m->header.exchange == wire::ExchangeType::CreateChildSa ? 0 : 1;
    };
    p.live(95s);
    CHECK(p.count(p.alice_events, EventKind::ChildDown) == 1);
    CHECK(p.count(p.bob_events, EventKind::ChildDown) == 1);
    CHECK(p.esp(p.alice_kernel).empty());
    CHECK(p.esp(p.bob_kernel).empty());
    CHECK(p.policies(p.alice_kernel).empty());
    CHECK(p.policies(p.bob_kernel).empty());
  }

  TEST_CASE("byte lifetimes: traffic on the SA triggers the rekey") {
    LifecyclePair p;
    for (auto* c : {&p.alice_config, &p.bob_config})
      c->children[0].lifetime = {0s, 0s, 0s, 100'000, 200'000, 0, 0};
    const uint64_t spi = p.start();
    p.run();
    const uint32_t before = first_child(p.alice.find(spi)).spi_in;
    kernel::Selector pkt;
    pkt.src = prefix("10.1.0.5/32");
    pkt.dst = prefix("10.2.0.7/32");
    for (int i = 0; i < 1000 && first_child(p.alice.find(spi)).spi_in == before; ++i) {
      p.alice_kernel.send(pkt);
      p.live(1s);
    }
    p.live(5s);
    p.check_steady();
    CHECK(first_child(p.alice.find(spi)).spi_in != before);
    CHECK(p.count(p.alice_events, EventKind::ChildRekeyed) == 1);
  }

  TEST_CASE("dead peer: detected within dpd_delay + dpd_timeout, then clear, restart or trap") {
    for (auto action : {PeerGoneAction::None, PeerGoneAction::Restart, PeerGoneAction::Trap}) {
      CAPTURE(static_cast<int>(action));
      LifecyclePair p;
      p.alice_config.dpd_delay = 30s;
      p.alice_config.dpd_timeout = 60s;
      p.alice_config.children[0].dpd_action = action;
      p.start();
      p.run();
      p.net.filter = [](const Packet& pk, size_t) { return pk.to.addr == ip("192.0.2.2") ? 0 : 1; };
      Millis gone{0};
      for (int s = 0; s < 200 && gone.count() == 0; ++s) {
        p.live(1s);
        if (p.count(p.alice_events, EventKind::DpdFailed) == 1) gone = p.clock.t;
      }
      REQUIRE(gone.count() != 0);
      MESSAGE("dead peer found after " << gone.count() / 1000 - 0 << " s of fake time");
      CHECK(gone <= Millis(30s + 60s + 1s));
      CHECK(p.esp(p.alice_kernel).empty());
      if (action == PeerGoneAction::Trap) {
        CHECK(p.policies(p.alice_kernel).size() == 3);
        CHECK(p.alice.trapped("to-bob"));
      } else {
        CHECK(p.policies(p.alice_kernel).empty());
      }
      const auto all = p.alice.sas();
      CHECK(all.size() == (action == PeerGoneAction::Restart ? 1u : 0u));
      if (action == PeerGoneAction::Restart) CHECK(all.front()->state == IkeState::SaInitSent);
    }
  }

  TEST_CASE("DPD with a live peer: liveness checks answered, nothing torn down") {
    LifecyclePair p;
    p.alice_config.dpd_delay = 10s;
    p.alice_config.dpd_timeout = 30s;
    p.start();
    p.run();
    p.live(120s);
    p.check_steady();
    CHECK(p.bob.counters().liveness_answered >= 10);
  }

  TEST_CASE("DPD: inbound ESP counts as a sign of life, no liveness checks while it flows") {
    LifecyclePair p;
    p.alice_config.dpd_delay = 10s;
    p.alice_config.dpd_timeout = 30s;
    p.start();
    p.run();
    kernel::Selector pkt;  // Bob -> Alice: counted on Alice's inbound SA
    pkt.src = prefix("10.2.0.7/32");
    pkt.dst = prefix("10.1.0.5/32");
    for (int i = 0; i < 120; ++i) {
      p.bob_kernel.send(pkt);
      const auto b = first_child(p.only(p.bob));
      p.alice_kernel.add_traffic(
          kernel::SaId{ip("192.0.2.1"), b.spi_out, kernel::Proto::Esp, {}, {}}, 100, 1);
      p.live(1s);
    }
    CHECK(p.bob.counters().liveness_answered == 0);
    p.live(60s);  // quiet: the checks resume
    CHECK(p.bob.counters().liveness_answered >= 4);
    p.check_steady();
  }

  TEST_CASE("close action when the peer deletes: none, restart, trap") {
    for (auto action : {PeerGoneAction::None, PeerGoneAction::Restart, PeerGoneAction::Trap}) {
      CAPTURE(static_cast<int>(action));
      LifecyclePair p;
      p.alice_config.children[0].close_action = action;
      p.start();
      p.run();
      REQUIRE(p.bob.delete_ike_sa(p.only(p.bob)->local_spi()));
      p.run();
      if (action == PeerGoneAction::Restart) {
        p.check_steady();  // up again
        CHECK(p.count(p.alice_events, EventKind::IkeUp) == 2);
      } else {
        CHECK(p.alice.sas().empty());
        CHECK(p.esp(p.alice_kernel).empty());
        CHECK(p.policies(p.alice_kernel).size() == (action == PeerGoneAction::Trap ? 3u : 0u));
      }
    }
  }

  TEST_CASE("on-demand: trap policies, ACQUIREs start one negotiation, the SA fits the packet") {
    LifecyclePair p;
    p.alice_config.children[0].start_action = StartAction::Trap;
    p.alice.add_connection(p.alice_config);
    p.bob.add_connection(p.bob_config);
    REQUIRE(p.alice.install_trap("to-bob"));
    CHECK(p.policies(p.alice_kernel).size() == 3);
    CHECK(p.esp(p.alice_kernel).empty());
    kernel::Selector pkt;
    pkt.src = prefix("10.1.0.5/32");
    pkt.dst = prefix("10.2.0.7/32");
    pkt.proto = 1;
    // Held, never in the clear, while there is no SA.
    std::vector<kernel::AcquireEvent> acquires;
    for (int i = 0; i < 3; ++i) {
      auto r = p.alice_kernel.send(pkt);
      CHECK(r.fate == kernel::MemoryKernel::Fate::Held);
      if (r.acquire) acquires.push_back(*r.acquire);
    }
    REQUIRE(acquires.size() == 1);  // the kernel asks once while pending
    // Even several ACQUIREs (a second worker, a retry) start one negotiation.
    for (int i = 0; i < 3; ++i) CHECK(p.alice.on_acquire(acquires.front()));
    CHECK(p.alice.sas().size() == 1);
    CHECK(p.count(p.alice_events, EventKind::Acquire) == 3);
    p.run();
    p.check_steady();
    const ChildSa c = first_child(p.only(p.alice));
    bool covered = false;
    for (const auto& ts : c.local_ts)
      covered = covered || (ts.start <= ip("10.1.0.5") && ip("10.1.0.5") <= ts.end);
    CHECK(covered);
    CHECK(p.alice_kernel.send(pkt).fate == kernel::MemoryKernel::Fate::Protected);
    // An ACQUIRE for a reqid that is not ours is not this engine's.
    kernel::AcquireEvent other = acquires.front();
    other.tmpl.reqid = 4242;
    other.policy.tmpls.front().reqid = 4242;
    CHECK_FALSE(p.alice.on_acquire(other));
    // down: back to trap, the policies stay, nothing in the clear.
    REQUIRE(p.alice.delete_ike_sa(p.only(p.alice)->local_spi()));
    p.run();
    CHECK(p.esp(p.alice_kernel).empty());
    CHECK(p.policies(p.alice_kernel).size() == 3);
    CHECK(p.alice_kernel.send(pkt).fate == kernel::MemoryKernel::Fate::Held);
    p.alice.remove_trap("to-bob");
    CHECK(p.policies(p.alice_kernel).empty());
  }

  TEST_CASE("reauthentication instead of rekey: a new IKE SA, then the old one is deleted") {
    LifecyclePair p;
    for (auto* c : {&p.alice_config, &p.bob_config}) c->ike_lifetime = {0s, 3600s, 360s, 0s};
    const uint64_t spi = p.start();
    p.run();
    const uint32_t before = first_child(p.alice.find(spi)).spi_in;
    size_t max_sas = 0;
    bound_kernels(p, max_sas);
    p.live(3700s, 5s);
    p.after_step = nullptr;
    p.check_steady();
    const IkeSa* a = p.only(p.alice);
    CHECK(a->local_spi() != spi);
    CHECK(a->children.front().spi_in != before);
    CHECK(p.count(p.alice_events, EventKind::IkeUp) == 2);
    CHECK(max_sas <= 4);
  }

  TEST_CASE("inactivity: an idle CHILD SA (and its IKE SA) is closed, a busy one is not") {
    LifecyclePair p;
    p.alice_config.children[0].inactivity = 60s;
    const uint64_t spi = p.start();
    p.run();
    kernel::Selector pkt;
    pkt.src = prefix("10.1.0.5/32");
    pkt.dst = prefix("10.2.0.7/32");
    for (int i = 0; i < 180; ++i) {
      p.alice_kernel.send(pkt);
      p.live(1s);
    }
    REQUIRE(p.alice.find(spi) != nullptr);
    p.live(130s);
    CHECK(p.alice.sas().empty());
    CHECK(p.bob.sas().empty());
    CHECK(p.esp(p.alice_kernel).empty());
    CHECK(p.esp(p.bob_kernel).empty());
    CHECK(p.policies(p.bob_kernel).empty());
  }

  TEST_CASE("an additional CHILD SA on the IKE SA (CREATE_CHILD_SA), deleted on its own") {
    LifecyclePair p;
    const uint64_t spi = p.start();
    p.run();
    REQUIRE(p.alice.create_child_sa(spi));
    p.run();
    const IkeSa* a = p.alice.find(spi);
    REQUIRE(a->children.size() == 2);
    CHECK(p.esp(p.alice_kernel).size() == 4);
    CHECK(p.policies(p.alice_kernel).size() == 3);  // shared by both
    REQUIRE(p.alice.delete_child_sa(spi, a->children.back().spi_in));
    p.run();
    p.check_steady();
  }
}
