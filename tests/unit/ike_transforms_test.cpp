// SPDX-License-Identifier: Apache-2.0
// IKEv2 engine pair: every SK transform we implement protects IKE_AUTH and
// INFORMATIONAL in both directions (RFC 7296 §3.14, RFC 5282, RFC 7634).
#include <doctest/doctest.h>

#include <cstring>

#include "ike_test_harness.h"

using namespace ike_test;

namespace {

struct SkCase {
  const char* name;
  EncrSpec encr;
  std::vector<wire::IntegId> integ;  // empty for AEAD
};

std::vector<SkCase> sk_cases() {
  using wire::EncrId;
  using wire::IntegId;
  return {
      {"AES-GCM-8-128", {EncrId::AesGcm8, 128}, {}},
      {"AES-GCM-8-256", {EncrId::AesGcm8, 256}, {}},
      {"AES-GCM-12-128", {EncrId::AesGcm12, 128}, {}},
      {"AES-GCM-12-256", {EncrId::AesGcm12, 256}, {}},
      {"AES-GCM-16-128", {EncrId::AesGcm16, 128}, {}},
      {"AES-GCM-16-256", {EncrId::AesGcm16, 256}, {}},
      {"ChaCha20-Poly1305", {EncrId::ChaCha20Poly1305, 0}, {}},
      {"AES-CBC-128 HMAC-SHA2-256-128", {EncrId::AesCbc, 128}, {IntegId::HmacSha2_256_128}},
      {"AES-CBC-128 HMAC-SHA2-384-192", {EncrId::AesCbc, 128}, {IntegId::HmacSha2_384_192}},
      {"AES-CBC-128 HMAC-SHA2-512-256", {EncrId::AesCbc, 128}, {IntegId::HmacSha2_512_256}},
      {"AES-CBC-256 HMAC-SHA2-256-128", {EncrId::AesCbc, 256}, {IntegId::HmacSha2_256_128}},
      {"AES-CBC-256 HMAC-SHA2-384-192", {EncrId::AesCbc, 256}, {IntegId::HmacSha2_384_192}},
      {"AES-CBC-256 HMAC-SHA2-512-256", {EncrId::AesCbc, 256}, {IntegId::HmacSha2_512_256}},
  };
}

}  // namespace

TEST_SUITE("ike transforms") {
  TEST_CASE("every SK transform: IKE_AUTH, liveness both ways, Delete of the IKE SA") {
    for (const auto& c : sk_cases()) {
      CAPTURE(c.name);
      Pair p;
      p.alice_config.proposals = p.bob_config.proposals = {
          {{c.encr}, {wire::PrfId::HmacSha2_256}, c.integ, {wire::DhGroup::Curve25519}}};
      const uint64_t spi = p.start();
      p.run();
      const IkeSa* a = p.alice.find(spi);
      REQUIRE(a);
      INFO(a->failure);
      REQUIRE(a->state == IkeState::Established);
      REQUIRE(p.bob_sa());
      REQUIRE(p.bob_sa()->state == IkeState::Established);
      CHECK(static_cast<uint16_t>(a->algs.sk.encr) == static_cast<uint16_t>(c.encr.id));
      CHECK(a->keys.sk_ei == p.bob_sa()->keys.sk_ei);
      CHECK(first_child(a).state == ChildState::Installed);
      REQUIRE(p.bob.check_liveness(p.bob_sa()->spi_r));
      p.run();
      REQUIRE(p.alice.check_liveness(spi));
      p.run();
      CHECK(p.alice.counters().liveness_answered == 1);
      CHECK(p.bob.counters().liveness_answered == 1);
      CHECK(p.alice.counters().dropped_integrity + p.bob.counters().dropped_integrity == 0);
      REQUIRE(p.alice.delete_ike_sa(spi));
      p.run();
      CHECK(p.alice.sas().empty());
      CHECK(p.bob.sas().empty());
      CHECK(p.kernel_empty(p.alice_kernel));
      CHECK(p.kernel_empty(p.bob_kernel));
    }
  }
}
