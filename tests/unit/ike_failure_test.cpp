// SPDX-License-Identifier: Apache-2.0
// IKEv2 engine pair: authentication and negotiation failures,
// INVALID_KE_PAYLOAD retry, loss, duplicates and traffic selector narrowing.
#include <doctest/doctest.h>

#include <cstring>

#include "ike/traffic_selectors.h"
#include "ike_test_harness.h"

using namespace ike_test;

namespace {

bool contains(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

size_t installed(Pair& p, kernel::MemoryKernel& k) {
  size_t n = 0;
  for (const auto& s : p.sas(k)) n += s.larval ? 0 : 1;
  return n;
}

}  // namespace

TEST_SUITE("ike failures") {
  TEST_CASE("PSK mismatch: AUTHENTICATION_FAILED on both sides, nothing installed") {
    Pair p;
    const char* other = "not the same secret";
    p.bob_config.psk =
        SecretBytes(ByteView(reinterpret_cast<const uint8_t*>(other), strlen(other)));
    const uint64_t spi = p.start();
    p.run();
    // Failed SAs leave the tables; what is left is the closed record.
    CHECK(p.alice.sas().empty());
    CHECK(p.bob.sas().empty());
    const ClosedSa* a = p.alice.closed(spi);
    const ClosedSa* b = p.bob_closed();
    REQUIRE((a && b));
    CHECK(b->state == IkeState::Failed);
    CHECK(b->reason == "authentication failed: peer's AUTH did not verify");
    CHECK(a->state == IkeState::Failed);
    CHECK(a->reason == "authentication failed: peer rejected our AUTH");
    CHECK(to_string(a->state) == "failed");
    CHECK(a->child_state != ChildState::Installed);
    CHECK(b->child_state != ChildState::Installed);
    CHECK(p.sas(p.alice_kernel).empty());  // the allocated SPI was released too
    CHECK(p.sas(p.bob_kernel).empty());
    CHECK(p.policies(p.alice_kernel).empty());
    CHECK(p.policies(p.bob_kernel).empty());
    CHECK(p.alice.counters().auth_failed == 1);
    CHECK(p.bob.counters().auth_failed == 1);
  }

  TEST_CASE("wrong peer identity is an authentication failure") {
    Pair p;
    p.bob_config.remote_id = Identity::fqdn("mallory.example");
    const uint64_t spi = p.start();
    p.run();
    REQUIRE(p.bob_closed());
    CHECK(contains(p.bob_closed()->reason, "peer identity fqdn:alice.example is not the expected"));
    REQUIRE(p.alice.closed(spi));
    CHECK(p.alice.closed(spi)->state == IkeState::Failed);
    CHECK(installed(p, p.bob_kernel) == 0);
  }

  TEST_CASE(
      "IKE proposal mismatch: NO_PROPOSAL_CHOSEN, the failure names what "
      "we offered") {
    Pair p;
    p.bob_config.proposals = {{{{wire::EncrId::AesCbc, 128}},
                               {wire::PrfId::HmacSha2_256},
                               {wire::IntegId::HmacSha2_256_128},
                               {wire::DhGroup::Modp2048}}};
    const uint64_t spi = p.start();
    p.run();
    CHECK(p.alice.find(spi) == nullptr);
    const ClosedSa* a = p.alice.closed(spi);
    REQUIRE(a);
    CHECK(a->state == IkeState::Failed);
    CHECK(contains(a->reason, "NO_PROPOSAL_CHOSEN"));
    CHECK(contains(a->reason, "we offered: ENCR_AES_GCM_16/256 PRF_HMAC_SHA2_256 CURVE25519"));
    CHECK(p.bob.sas().empty());  // the responder kept no state
    CHECK(p.bob.counters().no_proposal_chosen == 1);
    CHECK(p.alice.counters().no_proposal_chosen == 1);
  }

  TEST_CASE(
      "responder selection follows its own preference among the "
      "initiator's proposals") {
    Pair p;
    IkeProposalConfig cbc{{{wire::EncrId::AesCbc, 256}},
                          {wire::PrfId::HmacSha2_256},
                          {wire::IntegId::HmacSha2_256_128},
                          {wire::DhGroup::Curve25519}};
    p.alice_config.proposals = {ike_gcm_x25519(), cbc};
    p.bob_config.proposals = {cbc, ike_gcm_x25519()};
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    REQUIRE(a->state == IkeState::Established);
    CHECK(a->algs.sk.encr == crypto::EncrAlgorithm::AesCbc);
    CHECK(a->ike_proposal.number == 2);
  }

  TEST_CASE("ESP proposal mismatch: IKE SA up, CHILD SA refused, nothing installed") {
    Pair p;
    p.bob_config.children[0].proposals = {{{{wire::EncrId::AesCbc, 128}},
                                           {wire::IntegId::HmacSha2_256_128},
                                           {wire::EsnId::NoEsn},
                                           {}}};
    const uint64_t spi = p.start();
    p.run();
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(first_child(p.alice.find(spi)).failure ==
          "peer refused the CHILD SA: NO_PROPOSAL_CHOSEN");
    CHECK(first_child(p.bob_sa()).state == ChildState::Failed);
    CHECK(p.sas(p.alice_kernel).empty());
    CHECK(p.sas(p.bob_kernel).empty());
  }

  TEST_CASE(
      "INVALID_KE_PAYLOAD: the initiator retries with the requested "
      "group and succeeds") {
    Pair p;
    p.alice_config.proposals.front().dh = {wire::DhGroup::Curve25519, wire::DhGroup::Ecp256};
    p.bob_config.proposals.front().dh = {wire::DhGroup::Ecp256};
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    REQUIRE(a->state == IkeState::Established);
    CHECK(a->algs.group == crypto::KeGroup::Ecp256);
    CHECK(p.bob_sa()->state == IkeState::Established);
    CHECK(p.bob.counters().invalid_ke_sent == 1);
    CHECK(p.alice.counters().invalid_ke_received == 1);
    CHECK(p.net.sent.size() == 6);
    CHECK(installed(p, p.alice_kernel) == 2);
  }

  TEST_CASE(
      "lost IKE_SA_INIT and IKE_AUTH requests are retransmitted after "
      "the timer") {
    Pair p;
    // Drop the first IKE_SA_INIT request (datagram 0) and the first IKE_AUTH
    // request.
    p.net.filter = [](const Packet&, size_t i) { return i == 0 || i == 3 ? 0 : 1; };
    const uint64_t spi = p.start();
    p.run();
    CHECK(p.alice.find(spi)->state == IkeState::SaInitSent);
    REQUIRE(p.alice.next_timer() == Millis(1000));
    p.advance(Millis(999));
    CHECK(p.alice.counters().retransmits == 0);
    p.advance(Millis(1));
    CHECK(p.alice.find(spi)->state == IkeState::AuthSent);
    p.advance(Millis(1000));
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(p.alice.counters().retransmits == 2);
    CHECK(first_child(p.bob_sa()).state == ChildState::Installed);
    CHECK(installed(p, p.bob_kernel) == 2);
  }

  TEST_CASE("a silent peer: exponential backoff, then the SA fails") {
    Pair p;
    p.net.filter = [](const Packet&, size_t) { return 0; };
    const uint64_t spi = p.start();
    for (long ms : {1000, 2000, 4000, 8000, 16000}) {
      CHECK(p.alice.next_timer() == p.clock.t + Millis(ms));
      p.advance(Millis(ms));
    }
    CHECK(p.alice.counters().retransmits == 5);
    p.advance(Millis(32000));
    CHECK(p.alice.find(spi) == nullptr);
    REQUIRE(p.alice.closed(spi));
    CHECK(p.alice.closed(spi)->state == IkeState::Failed);
    CHECK(contains(p.alice.closed(spi)->reason, "peer not responding"));
    CHECK_FALSE(p.alice.next_timer());
  }

  TEST_CASE("duplicated requests are answered from the cache, processed once") {
    Pair p;
    p.net.filter = [](const Packet& pk, size_t) { return pk.to.addr == ip("192.0.2.2") ? 2 : 1; };
    const uint64_t spi = p.start();
    p.run();
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(p.bob.sas().size() == 1);
    CHECK(p.bob.counters().duplicates_answered == 2);
    CHECK(p.bob.counters().child_installed == 1);
    CHECK(p.alice.counters().dropped_unexpected == 2);  // the answers to the duplicates
    CHECK(installed(p, p.bob_kernel) == 2);
  }

  TEST_CASE("traffic selectors: the responder narrows to its configuration") {
    Pair p;
    p.alice_config.children[0].local_ts = {prefix("10.1.0.0/16")};
    p.alice_config.children[0].remote_ts = {prefix("10.0.0.0/8")};
    p.bob_config.children[0].local_ts = {prefix("10.2.3.0/24")};
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    REQUIRE(first_child(a).state == ChildState::Installed);
    REQUIRE(first_child(a).remote_ts.size() == 1);
    CHECK(*ts_prefix(first_child(a).remote_ts.front()) == prefix("10.2.3.0/24"));
    auto ap = p.policies(p.alice_kernel);
    REQUIRE(ap.size() == 3);
    CHECK(ap[0].sel.dst == prefix("10.2.3.0/24"));
    auto bp = p.policies(p.bob_kernel);
    CHECK(bp[0].sel.src == prefix("10.2.3.0/24"));
  }

  TEST_CASE("traffic selectors without intersection: TS_UNACCEPTABLE, no CHILD SA") {
    Pair p;
    p.bob_config.children[0].local_ts = {prefix("172.16.0.0/12")};
    const uint64_t spi = p.start();
    p.run();
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(first_child(p.alice.find(spi)).failure == "peer refused the CHILD SA: TS_UNACCEPTABLE");
    CHECK(p.bob.counters().ts_unacceptable == 1);
    CHECK(p.sas(p.alice_kernel).empty());
    CHECK(p.policies(p.bob_kernel).empty());
  }

  TEST_CASE("transport mode: no fwd policy, templates without addresses") {
    Pair p;
    p.alice_config.children[0].mode = p.bob_config.children[0].mode = kernel::Mode::Transport;
    p.alice_config.children[0].local_ts =
        p.bob_config.children[0].remote_ts = {prefix("192.0.2.1/32")};
    p.alice_config.children[0].remote_ts =
        p.bob_config.children[0].local_ts = {prefix("192.0.2.2/32")};
    const uint64_t spi = p.start();
    p.run();
    REQUIRE(first_child(p.alice.find(spi)).state == ChildState::Installed);
    auto ap = p.policies(p.alice_kernel);
    REQUIRE(ap.size() == 2);
    CHECK(ap[0].tmpls[0].mode == kernel::Mode::Transport);
    CHECK(ap[0].tmpls[0].dst.is_unspec());
    for (const auto& s : p.sas(p.bob_kernel)) {
      CHECK(s.mode == kernel::Mode::Transport);
      CHECK(s.flags == 0);
    }
  }

  // Seen on Debian's kernel: without XFRM_STATE_AF_UNSPEC the kernel pins an
  // SA's empty selector to the outer family, so IPv4 selectors over an IPv6
  // tunnel found no SA (XfrmOutNoStates) although the policies were there.
  TEST_CASE("tunnel mode: IPv4 and IPv6 selectors in one CHILD SA, SAs of either inner family") {
    Pair p;
    p.alice_config.children[0].local_ts =
        p.bob_config.children[0].remote_ts = {prefix("198.51.100.0/24"), prefix("2001:db8:a::/64")};
    p.alice_config.children[0].remote_ts =
        p.bob_config.children[0].local_ts = {prefix("203.0.113.0/24"), prefix("2001:db8:b::/64")};
    const uint64_t spi = p.start();
    p.run();
    REQUIRE(first_child(p.alice.find(spi)).state == ChildState::Installed);
    CHECK(p.policies(p.alice_kernel).size() == 6);  // out, in, fwd for each family
    CHECK(p.policies(p.bob_kernel).size() == 6);
    for (auto* k : {&p.alice_kernel, &p.bob_kernel})
      for (const auto& s : p.sas(*k)) {
        if (s.larval) continue;
        CHECK(s.mode == kernel::Mode::Tunnel);
        CHECK(s.flags == kernel::kSaFlagAfUnspec);
        CHECK(s.sel.empty());
      }
  }
}
