// SPDX-License-Identifier: Apache-2.0
// A restart that keeps the tunnels, in the engine: Bob's engine hands its IKE SA over (no
// message to Alice, the CHILD SA left in the kernel); a new engine on the same kernel, as
// the next ipsecd would have, takes it over from the record and goes on with Alice on the
// same SPIs, keys and message IDs: a liveness check each way, a CHILD SA rekey, an IKE SA
// rekey, and a Delete that leaves the kernel empty (the policies were counted again).
// Records that are damaged, of another version or of a connection no longer loaded are
// refused with a reason; an IKE SA with an exchange in flight is not handed over.
#include <doctest/doctest.h>

#include <unordered_set>

#include "ike/child_kernel.h"
#include "ike/v2/handover.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

std::unordered_set<std::string> held_sas(kernel::MemoryKernel& k) {
  std::unordered_set<std::string> out;
  auto d = k.dump_sas();
  REQUIRE(d);
  for (const auto& sa : *d) out.insert(kernel::identity_key(sa.id()));
  return out;
}

// Bob's second life: an engine of its own on Bob's kernel (a new PolicyRefs, as a new
// process has), fed by the pair's network.
struct Restarted {
  LifecyclePair& p;
  crypto::DeterministicRandom random{3};
  Engine bob{p.net, p.bob_kernel, p.clock};
  std::vector<EngineEvent> events;

  explicit Restarted(LifecyclePair& pair) : p(pair) {
    bob.set_random(random);
    bob.add_connection(p.bob_config);
    bob.set_event_handler([this](const EngineEvent& e) { events.push_back(e); });
  }
  void run() {
    while (!p.net.queue.empty()) {
      Packet pk = std::move(p.net.queue.front());
      p.net.queue.pop_front();
      if (pk.to.addr == p.alice_config.local.addr)
        p.alice.on_datagram(pk.to, pk.from, pk.data);
      else
        bob.on_datagram(pk.to, pk.from, pk.data);
    }
  }
  void live(Millis total) {
    for (Millis done{0}; done < total; done += Millis(500)) {
      p.clock.t += Millis(500);
      p.sync_kernels();
      p.alice.on_timer(p.clock.t);
      bob.on_timer(p.clock.t);
      run();
    }
  }
};

const IkeSa* single(const Engine& e) {
  auto all = e.sas();
  return all.size() == 1 ? all.front() : nullptr;
}

}  // namespace

TEST_SUITE("ike handover") {
  TEST_CASE("the next engine continues the IKE SA: same SPIs, keys and message IDs") {
    LifecyclePair p;
    const uint64_t spi = p.start();
    p.run();
    REQUIRE(p.alice.check_liveness(spi));  // message IDs past the first ones
    p.run();
    const IkeSa* before = p.bob_sa();
    REQUIRE(before != nullptr);
    REQUIRE(before->state == IkeState::Established);
    const uint64_t bob_spi = before->local_spi();
    const uint32_t next_mid = before->next_request_mid, expected = before->expected_request_mid;
    const Bytes sk_d(before->keys.sk_d.data(), before->keys.sk_d.data() + before->keys.sk_d.size());
    const uint32_t child_in = first_child(before).spi_in, child_out = first_child(before).spi_out;
    const size_t sas = p.sas(p.bob_kernel).size(), pols = p.policies(p.bob_kernel).size();
    const size_t sent = p.net.sent.size();

    CHECK(p.bob.busy() == 0);
    auto records = p.bob.hand_over();
    REQUIRE(records.size() == 1);
    CHECK(p.bob.sas().empty());
    CHECK(p.net.sent.size() == sent);  // not a word to Alice
    CHECK(p.sas(p.bob_kernel).size() == sas);
    CHECK(p.policies(p.bob_kernel).size() == pols);

    Restarted r(p);
    auto taken = r.bob.take_over(records[0].data.view());
    REQUIRE_MESSAGE(taken, taken.error().message);
    CHECK(*taken == bob_spi);
    CHECK(records[0].local_spi == bob_spi);
    const IkeSa* after = single(r.bob);
    REQUIRE(after != nullptr);
    CHECK(after->state == IkeState::Established);
    CHECK(after->spi_i == spi);
    CHECK(after->next_request_mid == next_mid);
    CHECK(after->expected_request_mid == expected);
    CHECK(after->keys.sk_d == SecretBytes(sk_d));
    CHECK(after->peer_id == p.alice_config.local_id);
    REQUIRE(after->children.size() == 1);
    CHECK(after->children[0].spi_in == child_in);
    CHECK(after->children[0].spi_out == child_out);
    CHECK(after->children[0].state == ChildState::Installed);
    CHECK(r.bob.reconcile(held_sas(p.bob_kernel), p.clock.t + Millis(1)) == 0);

    // Both directions of INFORMATIONAL: the message IDs and keys carry on.
    REQUIRE(p.alice.check_liveness(spi));
    r.run();
    REQUIRE(r.bob.check_liveness(bob_spi));
    r.run();
    CHECK(single(r.bob)->next_request_mid == next_mid + 1);
    CHECK(single(r.bob)->expected_request_mid == expected + 1);
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(p.alice.find(spi)->failure.empty());

    // A CHILD SA rekey from the new side, then an IKE SA rekey.
    REQUIRE(r.bob.rekey_child_sa(bob_spi, child_in));
    r.live(Millis(2000));
    const IkeSa* now = single(r.bob);
    REQUIRE(now != nullptr);
    REQUIRE(now->children.size() == 1);
    CHECK(now->children[0].spi_in != child_in);
    CHECK(now->children[0].state == ChildState::Installed);
    CHECK(p.esp(p.bob_kernel).size() == 2);
    REQUIRE(r.bob.rekey_ike_sa(bob_spi));
    r.live(Millis(2000));
    now = single(r.bob);
    REQUIRE(now != nullptr);
    CHECK(now->local_spi() != bob_spi);
    CHECK(now->state == IkeState::Established);

    // Alice deletes it: nothing of it stays in Bob's kernel, the taken-over policies included.
    REQUIRE(p.alice.delete_ike_sa(p.alice.sas().front()->local_spi()));
    r.live(Millis(1000));
    CHECK(r.bob.sas().empty());
    CHECK(p.kernel_empty(p.bob_kernel));
  }

  TEST_CASE("an IKE SA with an exchange in flight is not handed over until it is done") {
    LifecyclePair p;
    const uint64_t spi = p.start();
    p.run();
    const uint64_t bob_spi = p.bob_sa()->local_spi();
    REQUIRE(p.bob.check_liveness(bob_spi));
    CHECK(p.bob.busy() == 1);
    CHECK(p.bob.hand_over().empty());
    CHECK(p.bob.sas().size() == 1);
    p.run();  // Alice answers
    CHECK(p.bob.busy() == 0);
    CHECK(p.bob.hand_over().size() == 1);
    // Our own IKE_SA_INIT under way counts as busy too.
    REQUIRE(p.alice.delete_ike_sa(spi));
    REQUIRE(p.alice.initiate(p.alice_config.name));
    CHECK(p.alice.busy() >= 1);
  }

  TEST_CASE("damaged, foreign or orphaned records are refused with a reason") {
    LifecyclePair p;
    p.start();
    p.run();
    auto records = p.bob.hand_over();
    REQUIRE(records.size() == 1);
    const ByteView rec = records[0].data.view();

    Restarted r(p);
    for (size_t cut : {size_t{0}, size_t{1}, size_t{20}, rec.size() / 2, rec.size() - 1}) {
      CAPTURE(cut);
      auto t = r.bob.take_over(rec.first(cut));
      REQUIRE_FALSE(t);
      CHECK(!t.error().message.empty());
    }
    Bytes longer(rec.begin(), rec.end());
    longer.push_back(0);
    auto t = r.bob.take_over(longer);
    REQUIRE_FALSE(t);
    CHECK_MESSAGE(t.error().message.find("after the last CHILD SA") != std::string::npos,
                  t.error().message);
    Bytes other(rec.begin(), rec.end());
    other[0] = 9;
    t = r.bob.take_over(other);
    REQUIRE_FALSE(t);
    CHECK_MESSAGE(t.error().message.find("record version 9") != std::string::npos, t.error().message);
    CHECK(r.bob.sas().empty());

    Engine without{p.net, p.bob_kernel, p.clock};  // the connection was removed meanwhile
    t = without.take_over(rec);
    REQUIRE_FALSE(t);
    CHECK_MESSAGE(t.error().message.find("connection \"from-alice\" is not loaded") != std::string::npos,
                  t.error().message);

    // Whole: taken once; the same record twice is refused (its SPI is in use).
    REQUIRE(r.bob.take_over(rec));
    t = r.bob.take_over(rec);
    REQUIRE_FALSE(t);
    CHECK_MESSAGE(t.error().message.find("in use") != std::string::npos, t.error().message);
  }

  TEST_CASE("a CHILD SA the kernel lost meanwhile is found at once and rekeyed") {
    LifecyclePair p;
    p.start();
    p.run();
    const IkeSa* b = p.bob_sa();
    const uint32_t child_in = first_child(b).spi_in;
    const auto in_id = esp_sa_id(b->local.addr, child_in);
    auto records = p.bob.hand_over();
    REQUIRE(records.size() == 1);
    REQUIRE(p.bob_kernel.delete_sa(in_id));  // gone between the two processes
    Restarted r(p);
    REQUIRE(r.bob.take_over(records[0].data.view()));
    CHECK(r.bob.reconcile(held_sas(p.bob_kernel), p.clock.t + Millis(1)) == 1);
    r.live(Millis(2000));
    const IkeSa* now = single(r.bob);
    REQUIRE(now != nullptr);
    REQUIRE(now->children.size() == 1);
    CHECK(now->children[0].spi_in != child_in);
    CHECK_FALSE(now->children[0].kernel_gone);
    CHECK(p.esp(p.bob_kernel).size() == 2);
  }

  TEST_CASE("the rekey schedule carries over: the IKE SA is rekeyed when it was due, not later") {
    LifecyclePair p;
    p.bob_config.ike_lifetime.rekey_time = std::chrono::seconds(100);
    p.bob_config.ike_lifetime.rand_time = std::chrono::seconds(0);
    p.start();
    p.run();
    const IkeSa* b = p.bob_sa();
    REQUIRE(b != nullptr);
    const Millis rekey_at = b->rekey_at, expire_at = b->expire_at;
    REQUIRE(rekey_at > p.clock.t);
    const uint64_t bob_spi = b->local_spi();
    p.clock.t += Millis(40000);  // 40 s into its life
    auto records = p.bob.hand_over();
    REQUIRE(records.size() == 1);
    Restarted r(p);
    REQUIRE(r.bob.take_over(records[0].data.view()));
    CHECK(single(r.bob)->rekey_at == rekey_at);
    CHECK(single(r.bob)->expire_at == expire_at);
    // Just before it is due nothing happens; once due, the new engine rekeys it.
    r.live(rekey_at - p.clock.t - Millis(1000));
    REQUIRE(single(r.bob) != nullptr);
    CHECK(single(r.bob)->local_spi() == bob_spi);
    r.live(Millis(3000));
    const IkeSa* now = single(r.bob);
    REQUIRE(now != nullptr);
    CHECK(now->local_spi() != bob_spi);
    CHECK(now->state == IkeState::Established);
  }

  TEST_CASE("a child whose reqid changed between the processes is rekeyed onto the new one") {
    LifecyclePair p;
    p.start();
    p.run();
    const uint32_t child_in = first_child(p.bob_sa()).spi_in;
    auto records = p.bob.hand_over();
    REQUIRE(records.size() == 1);
    p.bob_config.children[0].reqid = 42;  // the next ipsecd gave out reqids anew
    Restarted r(p);
    REQUIRE(r.bob.take_over(records[0].data.view()));
    r.live(Millis(2000));
    const IkeSa* now = single(r.bob);
    REQUIRE(now != nullptr);
    REQUIRE(now->children.size() == 1);
    CHECK(now->children[0].spi_in != child_in);
    const auto esp = p.esp(p.bob_kernel);
    REQUIRE(esp.size() == 2);
    for (const auto& sa : esp) CHECK(sa.reqid == 42);
    for (const auto& pol : p.policies(p.bob_kernel)) {
      REQUIRE(pol.tmpls.size() == 1);
      CHECK(pol.tmpls[0].reqid == 42);
    }
  }
}
