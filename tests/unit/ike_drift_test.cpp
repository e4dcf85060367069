// SPDX-License-Identifier: Apache-2.0
// Drift repair on the memory kernel: policies of ours deleted or changed behind our back
// are put back by PolicyRefs::reconcile and a foreign overlapping one is reported once and
// left alone; a CHILD SA whose ESP SAs were deleted behind our back is found by
// Engine::reconcile, shows as "missing", and is rekeyed with new SAs that carry on.
#include <doctest/doctest.h>

#include <unordered_set>

#include "ike/child_kernel.h"
#include "ike_test_harness.h"
#include "kernel/memory_kernel.h"

using namespace ike_test;

namespace {

std::unordered_set<std::string> held_sas(kernel::MemoryKernel& k) {
  std::unordered_set<std::string> out;
  auto d = k.dump_sas();
  REQUIRE(d);
  for (const auto& sa : *d) out.insert(kernel::identity_key(sa.id()));
  return out;
}

kernel::PolicyParams policy(const char* src, const char* dst, kernel::Dir dir, uint32_t reqid) {
  kernel::PolicyParams p;
  p.sel.src = *Prefix::parse(src);
  p.sel.dst = *Prefix::parse(dst);
  p.dir = dir;
  p.priority = 1000;
  kernel::Template t;
  t.src = *IpAddress::parse("192.0.2.1");
  t.dst = *IpAddress::parse("192.0.2.2");
  t.mode = kernel::Mode::Tunnel;
  t.reqid = reqid;
  p.tmpls = {t};
  return p;
}

}  // namespace

TEST_SUITE("ike drift") {
  TEST_CASE("policies: gone ones reinstalled, changed ones restored, foreign ones reported") {
    kernel::MemoryKernel k;
    PolicyRefs refs;
    const auto out = policy("10.1.0.0/16", "10.2.0.0/16", kernel::Dir::Out, 7);
    const auto in = policy("10.2.0.0/16", "10.1.0.0/16", kernel::Dir::In, 7);
    REQUIRE(refs.acquire(k, {out, in}));
    auto d = refs.reconcile(k);
    CHECK(d.reinstalled + d.restored + d.foreign + d.failed == 0);
    CHECK(d.lines.empty());

    REQUIRE(k.delete_policy(out.id()));  // an admin's `ip xfrm policy delete`
    kernel::PolicyParams changed = in;
    changed.action = kernel::Action::Block;  // or `ip xfrm policy update ... action block`
    REQUIRE(k.update_policy(changed));
    d = refs.reconcile(k);
    CHECK(d.reinstalled == 1);
    CHECK(d.restored == 1);
    REQUIRE(d.lines.size() == 2);
    CHECK(d.lines[0].find("installed again") != std::string::npos);
    auto dump = k.dump_policies();
    REQUIRE(dump);
    REQUIRE(dump->size() == 2);
    for (const auto& p : *dump) CHECK((p.same_config(out) || p.same_config(in)));

    // Someone else's policy for part of our traffic: reported once, never deleted.
    auto foreign = policy("10.1.5.0/24", "10.2.0.0/16", kernel::Dir::Out, 99);
    foreign.priority = 10;
    REQUIRE(k.add_policy(foreign));
    d = refs.reconcile(k);
    CHECK(d.foreign == 1);
    REQUIRE(d.lines.size() == 1);
    CHECK(d.lines[0].find("not ours") != std::string::npos);
    d = refs.reconcile(k);
    CHECK(d.foreign == 0);
    CHECK(k.dump_policies()->size() == 3);
    // One that does not overlap ours is none of our business.
    REQUIRE(k.add_policy(policy("172.16.0.0/12", "10.2.0.0/16", kernel::Dir::Out, 98)));
    CHECK(refs.reconcile(k).foreign == 0);
    // Released by their last user, ours go; the foreign ones stay.
    refs.release(k, {out, in});
    CHECK(k.dump_policies()->size() == 2);
    CHECK(refs.reconcile(k).reinstalled == 0);
  }

  TEST_CASE("a CHILD SA whose ESP SAs vanished is rekeyed, and shows as missing until then") {
    for (const bool inbound : {true, false}) {
      CAPTURE(inbound);
      LifecyclePair p;
      const uint64_t spi = p.start();
      p.run();
      const IkeSa* a = p.alice.find(spi);
      REQUIRE(a != nullptr);
      REQUIRE(a->children.size() == 1);
      const uint32_t old_in = a->children[0].spi_in, old_out = a->children[0].spi_out;
      p.clock.t += Millis(1000);
      // Nothing missing: nothing done.
      CHECK(p.alice.reconcile(held_sas(p.alice_kernel), p.clock.t) == 0);
      // Behind our back: one of Alice's ESP SAs is deleted.
      const auto gone = inbound ? esp_sa_id(a->local.addr, old_in) : esp_sa_id(a->remote.addr, old_out);
      REQUIRE(p.alice_kernel.delete_sa(gone));
      // A dump taken before the CHILD SA was installed does not judge it.
      CHECK(p.alice.reconcile(held_sas(p.alice_kernel), Millis(0)) == 0);
      CHECK(p.alice.reconcile(held_sas(p.alice_kernel), p.clock.t) == 1);
      CHECK(p.alice.counters().kernel_sas_missing == 1);
      REQUIRE(LifecyclePair::count(p.alice_events, EventKind::Repair) == 1);
      const EngineEvent& ev = p.alice_events.back();
      REQUIRE(ev.kind == EventKind::Repair);
      CHECK(ev.spi_in == old_in);
      CHECK_MESSAGE(ev.detail.find(inbound ? "its inbound ESP SA vanished" : "its outbound ESP SA vanished") !=
                        std::string::npos,
                    ev.detail);
      // Reported once, not on every reconcile.
      CHECK(p.alice.reconcile(held_sas(p.alice_kernel), p.clock.t) == 0);
      // The rekey (CREATE_CHILD_SA) went out with the reconcile; the peer answers.
      p.run();
      p.live(Millis(2000));
      a = p.alice.find(spi);
      REQUIRE(a != nullptr);
      REQUIRE(a->children.size() == 1);
      const ChildSa& now = a->children[0];
      CHECK(now.state == ChildState::Installed);
      CHECK(now.spi_in != old_in);
      CHECK_FALSE(now.kernel_gone);
      // Both sides hold exactly the new pair: the old SAs are gone everywhere.
      CHECK(p.esp(p.alice_kernel).size() == 2);
      CHECK(p.esp(p.bob_kernel).size() == 2);
      CHECK(held_sas(p.alice_kernel).count(kernel::identity_key(esp_sa_id(a->local.addr, now.spi_in))) == 1);
      CHECK(held_sas(p.alice_kernel).count(kernel::identity_key(esp_sa_id(a->remote.addr, now.spi_out))) == 1);
      CHECK(LifecyclePair::count(p.alice_events, EventKind::ChildRekeyed) == 1);
      CHECK(p.alice.reconcile(held_sas(p.alice_kernel), p.clock.t) == 0);
    }
  }
}
