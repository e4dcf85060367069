// SPDX-License-Identifier: Apache-2.0
// Engine-pair harness for IKEv2 tests: two engines, one in-memory network with
// drop / duplicate hooks, a MemoryKernel each, a fake clock.
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <vector>

#include "ike/v2/engine.h"
#include "kernel/memory_kernel.h"

namespace ike_test {

using namespace ipsec;
using namespace ipsec::ike;
using namespace ipsec::ike::v2;

// The IKE SA's first CHILD SA; one in state Deleted when it has none left.
inline ChildSa first_child(const IkeSa* sa) {
  REQUIRE(sa != nullptr);
  if (sa->children.empty()) {
    ChildSa gone;
    gone.state = ChildState::Deleted;
    return gone;
  }
  return sa->children.front();
}

struct FakeClock : Clock {
  Millis t{0};
  Millis now() const override { return t; }
};

struct Packet {
  Endpoint from, to;
  Bytes data;
};

// Datagrams queue here until run() delivers them. `filter` sees every datagram
// in send order (index from 0) and returns how many copies to deliver: 0 drops,
// 2 duplicates.
struct Network : Sender {
  std::deque<Packet> queue;
  std::vector<Packet> sent;
  std::function<int(const Packet&, size_t index)> filter;
  void send(const Endpoint& from, const Endpoint& to, ByteView d) override {
    Packet p{from, to, Bytes(d.begin(), d.end())};
    const int copies = filter ? filter(p, sent.size()) : 1;
    sent.push_back(p);
    for (int i = 0; i < copies; ++i) queue.push_back(p);
  }
};

inline IpAddress ip(const char* s) { return *IpAddress::parse(s); }
inline Prefix prefix(const char* s) { return *Prefix::parse(s); }

inline IkeProposalConfig ike_gcm_x25519() {
  return {{{wire::EncrId::AesGcm16, 256}},
          {wire::PrfId::HmacSha2_256},
          {},
          {wire::DhGroup::Curve25519}};
}
inline EspProposalConfig esp_gcm() {
  return {{{wire::EncrId::AesGcm16, 256}}, {}, {wire::EsnId::NoEsn}, {}};
}

// Alice (192.0.2.1, 10.1.0.0/16) initiates to Bob (192.0.2.2, 10.2.0.0/16).
inline ConnectionConfig connection(bool alice) {
  ConnectionConfig c;
  c.name = alice ? "to-bob" : "from-alice";
  c.local = {ip(alice ? "192.0.2.1" : "192.0.2.2"), 500};
  c.remote = {ip(alice ? "192.0.2.2" : "192.0.2.1"), 500};
  c.local_id = Identity::fqdn(alice ? "alice.example" : "bob.example");
  c.remote_id = Identity::fqdn(alice ? "bob.example" : "alice.example");
  const char* psk = "a shared secret of reasonable length";
  c.psk = SecretBytes(ByteView(reinterpret_cast<const uint8_t*>(psk), strlen(psk)));
  c.proposals = {ike_gcm_x25519()};
  c.children.emplace_back();
  c.children[0].name = "lan";
  c.children[0].local_ts = {prefix(alice ? "10.1.0.0/16" : "10.2.0.0/16")};
  c.children[0].remote_ts = {prefix(alice ? "10.2.0.0/16" : "10.1.0.0/16")};
  c.children[0].proposals = {esp_gcm()};
  c.children[0].reqid = alice ? 7 : 9;
  // No IKE SA rekey unless a test asks for one (tests that check "no timer left").
  c.ike_lifetime.rekey_time = std::chrono::seconds(0);
  return c;
}

struct Pair {
  FakeClock clock;
  Network net;
  kernel::MemoryKernel alice_kernel, bob_kernel;
  // Deterministic randomness (nonces, SPIs, KE private keys, jitter): every run of a test
  // is the same conversation, and a test can script whose nonce is lower (§2.8).
  crypto::DeterministicRandom alice_random{1}, bob_random{2};
  Engine alice{net, alice_kernel, clock};
  Engine bob{net, bob_kernel, clock};
  ConnectionConfig alice_config = connection(true);
  ConnectionConfig bob_config = connection(false);

  Pair() {
    alice.set_random(alice_random);
    bob.set_random(bob_random);
  }

  // Installs the configs (after the test adjusted them) and initiates from
  // Alice.
  uint64_t start() {
    alice.add_connection(alice_config);
    bob.add_connection(bob_config);
    auto spi = alice.initiate(alice_config.name);
    REQUIRE(spi);
    return *spi;
  }
  void run() {
    while (!net.queue.empty()) {
      Packet p = std::move(net.queue.front());
      net.queue.pop_front();
      Engine& to = p.to.addr == alice_config.local.addr ? alice : bob;
      to.on_datagram(p.to, p.from, p.data);
    }
  }
  void advance(Millis d) {
    clock.t += d;
    alice.on_timer(clock.t);
    bob.on_timer(clock.t);
    run();
  }
  const IkeSa* bob_sa() const {
    auto all = bob.sas();
    return all.size() == 1 ? all.front() : nullptr;
  }
  // The newest IKE SA Bob removed from his table (failed or deleted).
  const ClosedSa* bob_closed() const {
    return bob.closed_sas().empty() ? nullptr : &bob.closed_sas().front();
  }
  // Every SA, every policy gone: nothing left behind in that kernel.
  bool kernel_empty(kernel::MemoryKernel& k) { return sas(k).empty() && policies(k).empty(); }
  std::vector<kernel::SaParams> sas(kernel::MemoryKernel& k) {
    auto d = k.dump_sas();
    REQUIRE(d);
    return *d;
  }
  std::vector<kernel::PolicyParams> policies(kernel::MemoryKernel& k) {
    auto d = k.dump_policies();
    REQUIRE(d);
    return *d;
  }
};

}  // namespace ike_test

namespace ike_test {

// Pair plus the kernel's side of time: both MemoryKernels follow the fake clock (as wall
// seconds), their lifetime EXPIREs go to the engines, and every event is recorded.
struct LifecyclePair : Pair {
  static constexpr uint64_t kEpoch = 1'800'000'000;  // kernel seconds at clock 0
  std::vector<EngineEvent> alice_events, bob_events;
  std::function<void()> after_step;  // a test's invariant, checked after every step

  LifecyclePair() {
    alice.set_event_handler([this](const EngineEvent& e) { alice_events.push_back(e); });
    bob.set_event_handler([this](const EngineEvent& e) { bob_events.push_back(e); });
    sync_kernels();
  }
  void sync_kernels() {
    const uint64_t s = kEpoch + static_cast<uint64_t>(clock.t.count() / 1000);
    alice_kernel.set_time(s);
    bob_kernel.set_time(s);
  }
  // Time passes in steps of `step`: kernel expiries, engine timers, the network.
  void live(Millis total, Millis step = Millis(1000)) {
    for (Millis done{0}; done < total; done += step) {
      clock.t += step;
      sync_kernels();
      for (const auto& e : alice_kernel.poll_expires()) alice.on_expire(e);
      for (const auto& e : bob_kernel.poll_expires()) bob.on_expire(e);
      alice.on_timer(clock.t);
      bob.on_timer(clock.t);
      run();
      if (after_step) after_step();
    }
  }
  static size_t count(const std::vector<EngineEvent>& events, EventKind k) {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                             [k](const EngineEvent& e) { return e.kind == k; }));
  }
  // ESP SAs in a kernel (larval ACQUIRE/ALLOCSPI states not counted).
  std::vector<kernel::SaParams> esp(kernel::MemoryKernel& k) {
    std::vector<kernel::SaParams> out;
    for (auto& s : sas(k))
      if (s.spi != 0 && (s.aead || s.enc)) out.push_back(s);
    return out;
  }
  const IkeSa* only(Engine& e) {
    auto all = e.sas();
    return all.size() == 1 ? all.front() : nullptr;
  }
  // Exactly one IKE SA each, established, with one CHILD SA each, SPIs crossed, and in
  // each kernel exactly its two ESP SAs and three policies.
  void check_steady() {
    const IkeSa *a = only(alice), *b = only(bob);
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(a->state == IkeState::Established);
    CHECK(b->state == IkeState::Established);
    CHECK(a->spi_i == b->spi_i);
    CHECK(a->spi_r == b->spi_r);
    REQUIRE(a->children.size() == 1);
    REQUIRE(b->children.size() == 1);
    const ChildSa &ca = a->children.front(), &cb = b->children.front();
    CHECK(ca.state == ChildState::Installed);
    CHECK(cb.state == ChildState::Installed);
    CHECK(ca.spi_in == cb.spi_out);
    CHECK(ca.spi_out == cb.spi_in);
    auto ak = esp(alice_kernel), bk = esp(bob_kernel);
    REQUIRE(ak.size() == 2);
    REQUIRE(bk.size() == 2);
    for (const auto& s : ak) CHECK((s.spi == ca.spi_in || s.spi == ca.spi_out));
    for (const auto& s : bk) CHECK((s.spi == cb.spi_in || s.spi == cb.spi_out));
    CHECK(policies(alice_kernel).size() == 3);
    CHECK(policies(bob_kernel).size() == 3);
  }
};

}  // namespace ike_test
