// SPDX-License-Identifier: Apache-2.0
// IKEv2 engine pair: IKE_SA_INIT + IKE_AUTH with PSK and the first CHILD SA,
// end to end in one process, with failures, retries, loss and duplicates.
#include <doctest/doctest.h>

#include <cstring>

#include "ike_test_harness.h"

using namespace ike_test;

namespace {

// By SPI and destination: both MemoryKernels hand out the same SPI sequence.
const kernel::SaParams* find_sa(const std::vector<kernel::SaParams>& sas, uint32_t spi,
                                const char* dst) {
  for (const auto& s : sas)
    if (s.spi == spi && s.dst == ip(dst)) return &s;
  return nullptr;
}

// Both IKE SAs established with the same keys; one ESP SA per direction in each
// kernel, Alice's outbound matching Bob's inbound (SPI, key) and vice versa;
// out/in/fwd policies.
void check_established(Pair& p, uint64_t spi) {
  const IkeSa* a = p.alice.find(spi);
  const IkeSa* b = p.bob_sa();
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  INFO("alice: " << a->failure << " / bob: " << b->failure);
  REQUIRE(a->state == IkeState::Established);
  REQUIRE(b->state == IkeState::Established);
  CHECK(a->spi_i == b->spi_i);
  CHECK(a->spi_r == b->spi_r);
  CHECK(a->keys.sk_d == b->keys.sk_d);
  CHECK(a->keys.sk_ei == b->keys.sk_ei);
  CHECK(a->keys.sk_er == b->keys.sk_er);
  CHECK(a->keys.sk_ai == b->keys.sk_ai);
  CHECK(a->keys.sk_pi == b->keys.sk_pi);
  REQUIRE(first_child(a).state == ChildState::Installed);
  REQUIRE(first_child(b).state == ChildState::Installed);
  CHECK(first_child(a).spi_out == first_child(b).spi_in);
  CHECK(first_child(a).spi_in == first_child(b).spi_out);

  auto as = p.sas(p.alice_kernel), bs = p.sas(p.bob_kernel);
  REQUIRE(as.size() == 2);
  REQUIRE(bs.size() == 2);
  const auto* a_out = find_sa(as, first_child(a).spi_out, "192.0.2.2");
  const auto* a_in = find_sa(as, first_child(a).spi_in, "192.0.2.1");
  const auto* b_out = find_sa(bs, first_child(b).spi_out, "192.0.2.1");
  const auto* b_in = find_sa(bs, first_child(b).spi_in, "192.0.2.2");
  REQUIRE((a_out && a_in && b_out && b_in));
  for (const auto* s : {a_out, a_in, b_out, b_in}) CHECK_FALSE(s->larval);
  CHECK(a_out->src == ip("192.0.2.1"));
  CHECK(a_out->dst == ip("192.0.2.2"));
  CHECK(a_in->src == ip("192.0.2.2"));
  CHECK(a_out->reqid == 7);
  CHECK(b_out->reqid == 9);
  // Same keys in opposite directions, different keys per direction.
  CHECK(a_out->aead == b_in->aead);
  CHECK(a_out->enc == b_in->enc);
  CHECK(a_out->auth == b_in->auth);
  CHECK(a_in->aead == b_out->aead);
  CHECK(a_in->enc == b_out->enc);
  CHECK(a_in->auth == b_out->auth);
  if (a_out->aead) CHECK_FALSE(a_out->aead->key == a_in->aead->key);
  if (a_out->enc) CHECK_FALSE(a_out->enc->key == a_in->enc->key);
}

void check_tunnel_policies(Pair& p) {
  auto ap = p.policies(p.alice_kernel);
  REQUIRE(ap.size() == 3);
  CHECK(ap[0].dir == kernel::Dir::Out);
  CHECK(ap[0].sel.src == prefix("10.1.0.0/16"));
  CHECK(ap[0].sel.dst == prefix("10.2.0.0/16"));
  REQUIRE(ap[0].tmpls.size() == 1);
  CHECK(ap[0].tmpls[0].src == ip("192.0.2.1"));
  CHECK(ap[0].tmpls[0].dst == ip("192.0.2.2"));
  CHECK(ap[0].tmpls[0].mode == kernel::Mode::Tunnel);
  CHECK(ap[0].tmpls[0].reqid == 7);
  CHECK(ap[1].dir == kernel::Dir::In);
  CHECK(ap[1].sel.src == prefix("10.2.0.0/16"));
  CHECK(ap[1].tmpls[0].src == ip("192.0.2.2"));
  CHECK(ap[2].dir == kernel::Dir::Fwd);
  auto bp = p.policies(p.bob_kernel);
  REQUIRE(bp.size() == 3);
  CHECK(bp[0].dir == kernel::Dir::Out);
  CHECK(bp[0].sel.src == prefix("10.2.0.0/16"));
  CHECK(bp[0].sel.dst == prefix("10.1.0.0/16"));
}

void set_proposals(Pair& p, IkeProposalConfig ike, EspProposalConfig esp) {
  p.alice_config.proposals = p.bob_config.proposals = {ike};
  p.alice_config.children[0].proposals = p.bob_config.children[0].proposals = {esp};
}

EspProposalConfig esp_cbc() {
  return {
      {{wire::EncrId::AesCbc, 256}}, {wire::IntegId::HmacSha2_256_128}, {wire::EsnId::NoEsn}, {}};
}

}  // namespace

TEST_SUITE("ike pair") {
  TEST_CASE(
      "AES-GCM-16-256, PRF-HMAC-SHA256, X25519: both sides established, "
      "CHILD SA installed") {
    Pair p;
    const uint64_t spi = p.start();
    p.run();
    check_established(p, spi);
    check_tunnel_policies(p);
    auto as = p.sas(p.alice_kernel);
    const auto* out = find_sa(as, first_child(p.alice.find(spi)).spi_out, "192.0.2.2");
    REQUIRE(out->aead);
    CHECK(out->aead->name == "rfc4106(gcm(aes))");
    CHECK(out->aead->bits == 128);
    CHECK(out->aead->key.size() == 36);  // 32-byte key + 4-byte salt
    CHECK(out->mode == kernel::Mode::Tunnel);
    CHECK(p.net.sent.size() == 4);
    CHECK(p.alice.counters().ike_established == 1);
    CHECK(p.bob.counters().child_installed == 1);
  }

  TEST_CASE("AES-CBC-256 + HMAC-SHA256-128, PRF-HMAC-SHA256, MODP-2048") {
    Pair p;
    set_proposals(p,
                  {{{wire::EncrId::AesCbc, 256}},
                   {wire::PrfId::HmacSha2_256},
                   {wire::IntegId::HmacSha2_256_128},
                   {wire::DhGroup::Modp2048}},
                  esp_cbc());
    const uint64_t spi = p.start();
    p.run();
    check_established(p, spi);
    auto as = p.sas(p.alice_kernel);
    const auto* out = find_sa(as, first_child(p.alice.find(spi)).spi_out, "192.0.2.2");
    REQUIRE((out->enc && out->auth));
    CHECK(out->enc->name == "cbc(aes)");
    CHECK(out->enc->key.size() == 32);
    CHECK(out->auth->name == "hmac(sha256)");
    CHECK(out->auth->bits == 128);
    CHECK(out->auth->key.size() == 32);
  }

  TEST_CASE("ChaCha20-Poly1305, PRF-HMAC-SHA384, ECP-256") {
    Pair p;
    set_proposals(p,
                  {{{wire::EncrId::ChaCha20Poly1305, 0}},
                   {wire::PrfId::HmacSha2_384},
                   {},
                   {wire::DhGroup::Ecp256}},
                  {{{wire::EncrId::ChaCha20Poly1305, 0}}, {}, {wire::EsnId::NoEsn}, {}});
    const uint64_t spi = p.start();
    p.run();
    check_established(p, spi);
    auto as = p.sas(p.alice_kernel);
    const auto* out = find_sa(as, first_child(p.alice.find(spi)).spi_out, "192.0.2.2");
    REQUIRE(out->aead);
    CHECK(out->aead->name == "rfc7539esp(chacha20,poly1305)");
    CHECK(out->aead->key.size() == 36);
  }

  TEST_CASE("the other key exchange groups: MODP-3072/4096, ECP-384/521, X448") {
    for (auto g : {wire::DhGroup::Modp3072, wire::DhGroup::Modp4096, wire::DhGroup::Ecp384,
                   wire::DhGroup::Ecp521, wire::DhGroup::Curve448}) {
      CAPTURE(static_cast<int>(g));
      Pair p;
      set_proposals(p, {{{wire::EncrId::AesGcm16, 128}}, {wire::PrfId::HmacSha2_512}, {}, {g}},
                    esp_gcm());
      const uint64_t spi = p.start();
      p.run();
      check_established(p, spi);
    }
  }
}
