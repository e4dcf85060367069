// SPDX-License-Identifier: Apache-2.0
// Connections with several children (engine pair): the first child rides IKE_AUTH, the
// others follow in CREATE_CHILD_SA, an on-demand child waits for its traffic; the responder
// picks each child by the selectors the initiator proposes, not by position; rekeys keep
// the child; deleting the IKE SA removes every CHILD SA.
#include <doctest/doctest.h>

#include <algorithm>

#include "ike/traffic_selectors.h"
#include "ike/v2/exchanges.h"
#include "ike_test_harness.h"

using namespace ike_test;
using namespace std::chrono_literals;

namespace {

ChildConfig child(const char* name, const char* local, const char* remote, uint32_t reqid,
                  StartAction start = StartAction::Start) {
  ChildConfig c;
  c.name = name;
  c.local_ts = {prefix(local)};
  c.remote_ts = {prefix(remote)};
  c.proposals = {esp_gcm()};
  c.reqid = reqid;
  c.start_action = start;
  return c;
}

// Alice: lan, dmz (start) and voice (on-demand); Bob lists them in another order, with
// other reqids.
void three_children(Pair& p) {
  p.alice_config.children = {child("lan", "10.1.0.0/16", "10.2.0.0/16", 7),
                             child("dmz", "10.11.0.0/16", "10.12.0.0/16", 8),
                             child("voice", "10.21.0.0/16", "10.22.0.0/16", 9, StartAction::Trap)};
  p.bob_config.children = {child("voice", "10.22.0.0/16", "10.21.0.0/16", 19, StartAction::None),
                           child("dmz", "10.12.0.0/16", "10.11.0.0/16", 18, StartAction::None),
                           child("lan", "10.2.0.0/16", "10.1.0.0/16", 17, StartAction::None)};
}

kernel::Selector packet(const char* src, const char* dst) {
  kernel::Selector s;
  s.src = prefix(src);
  s.dst = prefix(dst);
  s.proto = 1;
  return s;
}

// The installed CHILD SAs by child name, each with its selectors.
std::vector<std::string> installed(const IkeSa* sa) {
  std::vector<std::string> out;
  for (const auto& c : sa->children)
    if (c.state == ChildState::Installed)
      out.push_back(std::string(child_name(c)) + " " + describe(c.local_ts) +
                    " === " + describe(c.remote_ts));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> names(const std::vector<EngineEvent>& events, EventKind k) {
  std::vector<std::string> out;
  for (const auto& e : events)
    if (e.kind == k) out.push_back(e.child);
  return out;
}

}  // namespace

TEST_SUITE("ike children") {
  TEST_CASE("three children: two at start (IKE_AUTH + CREATE_CHILD_SA), one on demand") {
    LifecyclePair p;
    three_children(p);
    p.alice.add_connection(p.alice_config);
    p.bob.add_connection(p.bob_config);
    // Only the on-demand child is trapped.
    REQUIRE(p.alice.install_trap("to-bob"));
    CHECK(p.policies(p.alice_kernel).size() == 3);
    auto spi = p.alice.initiate("to-bob");
    REQUIRE(spi);
    p.run();
    REQUIRE(p.alice.sas().size() == 1);
    const IkeSa* a = p.alice.find(*spi);
    const IkeSa* b = p.only(p.bob);
    CHECK(installed(a) == std::vector<std::string>{"dmz 10.11.0.0/16 === 10.12.0.0/16",
                                                   "lan 10.1.0.0/16 === 10.2.0.0/16"});
    CHECK(installed(b) == std::vector<std::string>{"dmz 10.12.0.0/16 === 10.11.0.0/16",
                                                   "lan 10.2.0.0/16 === 10.1.0.0/16"});
    CHECK(names(p.alice_events, EventKind::ChildUp) == std::vector<std::string>{"lan", "dmz"});
    CHECK(names(p.bob_events, EventKind::ChildUp) == std::vector<std::string>{"lan", "dmz"});
    CHECK(p.esp(p.alice_kernel).size() == 4);
    CHECK(p.esp(p.bob_kernel).size() == 4);
    CHECK(p.policies(p.alice_kernel).size() == 9);  // 2 x 3 + the voice trap's 3
    CHECK(p.policies(p.bob_kernel).size() == 6);
    using Fate = kernel::MemoryKernel::Fate;
    CHECK(p.alice_kernel.send(packet("10.1.0.5/32", "10.2.0.7/32")).fate == Fate::Protected);
    CHECK(p.alice_kernel.send(packet("10.11.0.5/32", "10.12.0.7/32")).fate == Fate::Protected);

    // The on-demand child: its traffic is held, its ACQUIRE brings it up on the same IKE SA.
    auto held = p.alice_kernel.send(packet("10.21.0.5/32", "10.22.0.7/32"));
    CHECK(held.fate == Fate::Held);
    REQUIRE(held.acquire);
    CHECK(p.alice.on_acquire(*held.acquire));
    CHECK(p.alice.on_acquire(*held.acquire));  // a second ACQUIRE: still one negotiation
    p.run();
    CHECK(p.alice.sas().size() == 1);
    CHECK(p.bob.sas().size() == 1);
    CHECK(installed(a).size() == 3);
    CHECK(installed(b).size() == 3);
    CHECK(names(p.alice_events, EventKind::ChildUp).back() == "voice");
    CHECK(names(p.bob_events, EventKind::ChildUp).back() == "voice");
    CHECK(p.alice_kernel.send(packet("10.21.0.5/32", "10.22.0.7/32")).fate == Fate::Protected);
    CHECK(p.esp(p.alice_kernel).size() == 6);
    CHECK(p.esp(p.bob_kernel).size() == 6);
    // Each child's SAs carry its own reqid.
    for (const auto& sa : p.esp(p.alice_kernel)) CHECK((sa.reqid >= 7 && sa.reqid <= 9));
    for (const auto& sa : p.esp(p.bob_kernel)) CHECK((sa.reqid >= 17 && sa.reqid <= 19));

    // A rekey of one child (by Bob) keeps it: its name, selectors and reqid.
    const auto dmz = std::find_if(b->children.begin(), b->children.end(),
                                  [](const ChildSa& c) { return child_name(c) == "dmz"; });
    REQUIRE(dmz != b->children.end());
    REQUIRE(p.bob.rekey_child_sa(b->local_spi(), dmz->spi_in));
    p.run();
    CHECK(installed(a).size() == 3);
    CHECK(installed(b) == std::vector<std::string>{"dmz 10.12.0.0/16 === 10.11.0.0/16",
                                                   "lan 10.2.0.0/16 === 10.1.0.0/16",
                                                   "voice 10.22.0.0/16 === 10.21.0.0/16"});
    CHECK(names(p.alice_events, EventKind::ChildRekeyed) == std::vector<std::string>{"dmz"});
    CHECK(p.esp(p.alice_kernel).size() == 6);

    // down: every CHILD SA goes; Alice keeps the on-demand child's trap, Bob keeps nothing.
    REQUIRE(p.alice.delete_ike_sa(*spi));
    p.run();
    CHECK(p.esp(p.alice_kernel).empty());
    CHECK(p.esp(p.bob_kernel).empty());
    CHECK(p.policies(p.alice_kernel).size() == 3);
    CHECK(p.policies(p.bob_kernel).empty());
    CHECK(names(p.alice_events, EventKind::ChildDown).size() == 3);
    CHECK(p.alice_kernel.send(packet("10.21.0.5/32", "10.22.0.7/32")).fate == Fate::Held);
  }

  TEST_CASE("an ACQUIRE for an on-demand child with no IKE SA starts one for that child only") {
    LifecyclePair p;
    three_children(p);
    for (auto& c : p.alice_config.children) c.start_action = StartAction::Trap;
    p.alice.add_connection(p.alice_config);
    p.bob.add_connection(p.bob_config);
    REQUIRE(p.alice.install_trap("to-bob"));
    CHECK(p.policies(p.alice_kernel).size() == 9);
    auto held = p.alice_kernel.send(packet("10.11.0.5/32", "10.12.0.7/32"));
    REQUIRE(held.acquire);
    CHECK(p.alice.on_acquire(*held.acquire));
    p.run();
    const IkeSa* a = p.only(p.alice);
    REQUIRE(a != nullptr);
    REQUIRE(installed(a).size() == 1);
    CHECK(child_name(a->children.front()) == "dmz");
    CHECK(p.esp(p.alice_kernel).size() == 2);
  }

  TEST_CASE("a child the responder does not have is refused (TS_UNACCEPTABLE), the others stand") {
    LifecyclePair p;
    three_children(p);
    p.alice_config.children[2].start_action = StartAction::Start;
    p.bob_config.children.erase(p.bob_config.children.begin());  // no voice
    auto spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    CHECK(installed(a).size() == 2);
    CHECK(installed(p.only(p.bob)).size() == 2);
    CHECK(p.bob.counters().ts_unacceptable == 1);
    CHECK(a->state == IkeState::Established);
    CHECK(p.esp(p.alice_kernel).size() == 4);
    CHECK(p.esp(p.bob_kernel).size() == 4);
  }
}
