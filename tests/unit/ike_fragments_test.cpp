// SPDX-License-Identifier: Apache-2.0
// IKE fragmentation (RFC 7383): our messages split into SKF fragments that each fit the
// budget and verify on their own, reassembly with its limits, and in the engine pair an
// IKE_AUTH with an RSA-4096 certificate and two intermediates that does not fit one
// datagram, with and without fragment loss.
#include <doctest/doctest.h>

#include <random>

#include "crypto_pki_fixtures.h"
#include "ike/v2/fragments.h"
#include "ike_test_harness.h"
#include "wire/rules.h"

using namespace ike_test;
using crypto::KeyType;
using ipsec::ike::v2::Reassembly;
using ipsec::ike::v2::seal_fragments;

namespace {

namespace pt = pki_test;

std::unique_ptr<crypto::SkCipher> cipher(const crypto::SkTransform& t) {
  SecretBytes encr(Bytes(crypto::sk_encr_key_size(t), 0x5a));
  SecretBytes integ(Bytes(crypto::sk_integ_key_size(t.integ), 0xa5));
  auto c = crypto::make_sk_cipher(t, encr, integ);
  REQUIRE(c);
  return std::move(*c);
}

wire::Header auth_header() {
  wire::Header h;
  h.spi_i = 0x1111;
  h.spi_r = 0x2222;
  h.exchange = wire::ExchangeType::IkeAuth;
  h.initiator = true;
  h.message_id = 1;
  return h;
}

// An IKE_AUTH request's content with `cert_size` bytes of certificate.
std::vector<wire::Payload> big_auth(size_t cert_size) {
  Bytes cert(cert_size);
  for (size_t i = 0; i < cert.size(); ++i) cert[i] = static_cast<uint8_t>(i * 7);
  return {wire::IdIPayload{wire::IdType::Fqdn, Bytes{'a', '.', 'e', 'x'}},
          wire::CertPayload{static_cast<uint8_t>(wire::CertEncoding::X509Signature), cert},
          wire::AuthPayload{14, Bytes(300, 0x42)},
          wire::NotifyPayload{wire::ProtocolId::None, wire::NotifyType::InitialContact, {}, {}}};
}

wire::SkfPayload frag(uint16_t n, uint16_t total, size_t size = 100) {
  return {n == 1 ? wire::PayloadType::IdI : wire::PayloadType::None, n, total,
          Bytes(size, static_cast<uint8_t>(n))};
}

Bytes plain(uint16_t n, size_t size = 100) { return Bytes(size, static_cast<uint8_t>(n)); }

// RSA-4096 end entity under two intermediates under a root: too large for one datagram.
struct BigChain {
  std::time_t now = std::time(nullptr);
  pt::Names names(const std::string& cn) { return {{"C", "DE"}, {"O", "Example"}, {"CN", cn}}; }
  pt::Pkey root_key = pt::generate(KeyType::EcP256);
  pt::X509Ptr root = pt::ca_cert(names("Example Root CA"), root_key.get(), nullptr, nullptr, 1,
                                 now - 86400, now + 30 * 86400);
  pt::Pkey int1_key = pt::generate(KeyType::Rsa);
  pt::X509Ptr int1 = pt::ca_cert(names("Example Intermediate 1"), int1_key.get(), root.get(),
                                 root_key.get(), 2, now - 86400, now + 30 * 86400);
  pt::Pkey int2_key = pt::generate(KeyType::Rsa);
  pt::X509Ptr int2 = pt::ca_cert(names("Example Intermediate 2"), int2_key.get(), int1.get(),
                                 int1_key.get(), 3, now - 86400, now + 30 * 86400);
  static EVP_PKEY* rsa4096() {
    static pt::Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096}));
    REQUIRE(k != nullptr);
    return k.get();
  }

  void use(ConnectionConfig& c, const std::string& name) {
    auto leaf = pt::leaf_cert(names(name), rsa4096(), int2.get(), int2_key.get(),
                              "DNS:" + name + ".example", 100 + static_cast<long>(name.size()),
                              now - 3600, now + 30 * 86400);
    c.local_auth = c.remote_auth = AuthMethod::Pubkey;
    c.psk = SecretBytes();
    c.certs = {pt::certificate(leaf.get()), pt::certificate(int2.get()),
               pt::certificate(int1.get())};
    auto key = crypto::PrivateKey::parse(pt::encode(rsa4096(), pt::Form::Pkcs8Pem));
    REQUIRE(key);
    c.key = *key;
    c.cacerts = {pt::certificate(root.get())};
    c.send_cert = SendCert::Always;
  }
};

bool is_skf(const Packet& p) { return p.data.size() > 16 && p.data[16] == 53; }

// Runs the pair until both IKE SAs are up or `limit` seconds passed.
void run_until_up(Pair& p, uint64_t spi, int limit) {
  p.run();
  for (int i = 0; i < limit; ++i) {
    const IkeSa* a = p.alice.find(spi);
    const IkeSa* b = p.bob_sa();
    if (a && b && a->state == IkeState::Established && b->state == IkeState::Established) return;
    p.advance(Millis(1000));
  }
}

}  // namespace

TEST_SUITE("ike fragments") {
  TEST_CASE("a message over the budget becomes SKF fragments that each verify and fit") {
    for (const crypto::SkTransform t :
         {crypto::SkTransform{crypto::EncrAlgorithm::AesGcm16, 256, crypto::IntegAlgorithm::None},
          crypto::SkTransform{crypto::EncrAlgorithm::AesCbc, 128,
                              crypto::IntegAlgorithm::HmacSha2_256_128}}) {
      CAPTURE(static_cast<int>(t.encr));
      auto out = cipher(t);
      auto in = cipher(t);
      const auto inner = big_auth(4000);
      const size_t budget = ike::v2::ike_message_budget(1280, false, false);
      CHECK(budget == 1252);
      auto frags = seal_fragments(auth_header(), inner, *out, budget);
      REQUIRE(frags);
      REQUIRE(frags->size() == 4);
      Reassembly r;
      for (size_t i = 0; i < frags->size(); ++i) {
        const Bytes& d = (*frags)[i];
        CHECK(d.size() <= budget);
        auto m = wire::parse(d);
        REQUIRE(m);
        REQUIRE(wire::check_rules(*m));
        const auto* f = m->find<wire::SkfPayload>();
        REQUIRE(f != nullptr);
        CHECK(f->fragment_number == i + 1);
        CHECK(f->total_fragments == 4);
        CHECK(f->inner_first == (i == 0 ? wire::PayloadType::IdI : wire::PayloadType::None));
        // Each verifies alone, over its own header and SKF header.
        auto p = in->open(ByteView(d).first(d.size() - f->data.size()), f->data);
        REQUIRE(p);
        // A fragment's bytes moved into another fragment's header do not verify.
        if (i > 0) {
          Bytes other = d;
          other[28 + 5] = 1;  // Fragment Number low byte
          CHECK_FALSE(in->open(ByteView(other).first(d.size() - f->data.size()), f->data));
        }
        const auto v = r.add(1, false, *f, std::move(*p), Millis(0));
        CHECK(v == (i + 1 == frags->size() ? Reassembly::Verdict::Complete
                                            : Reassembly::Verdict::Kept));
      }
      auto [first, whole] = r.take();
      CHECK(first == wire::PayloadType::IdI);
      auto parsed = wire::parse_payloads(first, whole, 0);
      REQUIRE(parsed);
      CHECK(*parsed == inner);
      CHECK(r.empty());
    }
  }

  TEST_CASE("a message that fits goes out whole; budget 0 never fragments") {
    auto c = cipher({});
    auto small = seal_fragments(auth_header(), big_auth(100), *c, 1252);
    REQUIRE(small);
    REQUIRE(small->size() == 1);
    CHECK(small->front()[16] == 46);  // SK
    auto whole = seal_fragments(auth_header(), big_auth(4000), *c, 0);
    REQUIRE(whole);
    CHECK(whole->size() == 1);
    auto too_many = seal_fragments(auth_header(), big_auth(60000), *c, 600);
    REQUIRE_FALSE(too_many);
    CHECK(too_many.error().message.find("at most 64") != std::string::npos);
  }

  TEST_CASE("reassembly limits") {
    Reassembly r;
    SUBCASE("out of order, duplicates dropped") {
      CHECK(r.add(5, false, frag(3, 3), plain(3), Millis(0)) == Reassembly::Verdict::Kept);
      CHECK(r.add(5, false, frag(3, 3), plain(3), Millis(0)) == Reassembly::Verdict::Dropped);
      CHECK(r.why() == "fragment 3 already received");
      CHECK(r.add(5, false, frag(1, 3), plain(1), Millis(0)) == Reassembly::Verdict::Kept);
      CHECK(r.add(5, false, frag(2, 3), plain(2), Millis(0)) == Reassembly::Verdict::Complete);
      auto [first, whole] = r.take();
      CHECK(whole.size() == 300);
      CHECK(whole[0] == 1);
      CHECK(whole[150] == 2);
      CHECK(whole[299] == 3);
    }
    SUBCASE("too many fragments") {
      CHECK(r.add(1, false, frag(1, 65), plain(1), Millis(0)) == Reassembly::Verdict::Dropped);
      CHECK(r.why() == "65 fragments, at most 64");
    }
    SUBCASE("Next Payload only in the first fragment") {
      auto f = frag(2, 3);
      f.inner_first = wire::PayloadType::IdI;
      CHECK(r.add(1, false, f, plain(2), Millis(0)) == Reassembly::Verdict::Dropped);
      auto g = frag(1, 3);
      g.inner_first = wire::PayloadType::None;
      CHECK(r.add(1, false, g, plain(1), Millis(0)) == Reassembly::Verdict::Dropped);
      CHECK(r.empty());
    }
    SUBCASE("a newer message or a stale one starts anew") {
      CHECK(r.add(1, false, frag(1, 2), plain(1), Millis(0)) == Reassembly::Verdict::Kept);
      CHECK(r.add(2, false, frag(2, 2), plain(2), Millis(0)) == Reassembly::Verdict::Kept);
      // Fragment 1 of message 1 was forgotten: message 2 needs its own.
      CHECK(r.add(2, false, frag(1, 2), plain(1), Millis(40'000)) == Reassembly::Verdict::Kept);
      CHECK(r.add(2, false, frag(2, 2), plain(2), Millis(40'000)) ==
            Reassembly::Verdict::Complete);
    }
    SUBCASE("re-fragmented smaller: the larger total wins") {
      CHECK(r.add(1, false, frag(1, 2), plain(1), Millis(0)) == Reassembly::Verdict::Kept);
      CHECK(r.add(1, false, frag(1, 3), plain(1), Millis(0)) == Reassembly::Verdict::Kept);
      CHECK(r.add(1, false, frag(2, 2), plain(2), Millis(0)) == Reassembly::Verdict::Dropped);
      CHECK(r.why() == "fragment 2 of 2 while 3 are expected");
      CHECK(r.add(1, false, frag(2, 3), plain(2), Millis(0)) == Reassembly::Verdict::Kept);
      CHECK(r.add(1, false, frag(3, 3), plain(3), Millis(0)) == Reassembly::Verdict::Complete);
    }
    SUBCASE("at most 64 KiB put together") {
      for (uint16_t n = 1; n <= 6; ++n)
        CHECK(r.add(1, false, frag(n, 7), plain(n, 10000), Millis(0)) ==
              Reassembly::Verdict::Kept);
      CHECK(r.add(1, false, frag(7, 7), plain(7, 10000), Millis(0)) ==
            Reassembly::Verdict::Dropped);
      CHECK(r.why() == "message larger than 65536 bytes");
      CHECK(r.empty());
    }
  }

  TEST_CASE("an RSA-4096 chain with two intermediates: IKE_AUTH both ways in fragments") {
    BigChain pki;
    Pair p;
    pki.use(p.alice_config, "alice");
    pki.use(p.bob_config, "bob");
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    const IkeSa* b = p.bob_sa();
    REQUIRE((a && b));
    CHECK(a->state == IkeState::Established);
    CHECK(b->state == IkeState::Established);
    CHECK(a->fragmentation);
    CHECK(b->peer_cert_subject == "C=DE, O=Example, CN=alice");
    // Nothing over 1280 bytes on the wire (IPv4: 1252 of IKE message), and both the
    // request and the response went as fragments.
    size_t skf = 0;
    for (const auto& pk : p.net.sent) {
      CHECK(pk.data.size() <= 1252);
      skf += is_skf(pk) ? 1 : 0;
    }
    CHECK(skf >= 6);
    CHECK(p.alice.counters().fragments_sent + p.bob.counters().fragments_sent == skf);
    CHECK(p.bob.counters().fragments_received == p.alice.counters().fragments_sent);
    CHECK(p.alice.counters().fragments_received == p.bob.counters().fragments_sent);
    CHECK(p.alice.counters().fragments_reassembled == 1);
    CHECK(p.bob.counters().fragments_reassembled == 1);
    CHECK(p.bob.counters().fragments_dropped == 0);
  }

  TEST_CASE("30% of the fragments lost: retransmissions resend every fragment until it is up") {
    BigChain pki;
    size_t lost_all = 0;
    for (uint32_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
      CAPTURE(seed);
      Pair p;
      pki.use(p.alice_config, "alice");
      pki.use(p.bob_config, "bob");
      std::mt19937 rng(seed);
      std::bernoulli_distribution loss(0.3);
      size_t lost = 0;
      p.net.filter = [&](const Packet& pk, size_t) {
        if (!is_skf(pk) || !loss(rng)) return 1;
        ++lost;
        return 0;
      };
      const uint64_t spi = p.start();
      run_until_up(p, spi, 70);
      const IkeSa* a = p.alice.find(spi);
      const IkeSa* b = p.bob_sa();
      REQUIRE((a && b));
      CHECK(a->state == IkeState::Established);
      CHECK(b->state == IkeState::Established);
      CHECK(p.alice.counters().fragments_reassembled == 1);
      CHECK(p.bob.counters().fragments_reassembled == 1);
      if (lost > 0) CHECK(p.alice.counters().retransmits > 0);
      lost_all += lost;
      MESSAGE("seed " << seed << ": lost " << lost << " fragments, alice retransmitted "
                      << p.alice.counters().retransmits << " times, sent "
                      << p.alice.counters().fragments_sent << " fragments, bob dropped "
                      << p.bob.counters().fragments_dropped << " duplicates");
    }
    CHECK(lost_all > 0);
  }

  TEST_CASE("a retransmitted fragmented request is answered once, on its first fragment") {
    BigChain pki;
    Pair p;
    pki.use(p.alice_config, "alice");
    pki.use(p.bob_config, "bob");
    // Bob's first IKE_AUTH response (all its fragments) is lost.
    bool bob_answered = false;
    p.net.filter = [&](const Packet& pk, size_t) {
      if (!is_skf(pk) || pk.from.addr != p.bob_config.local.addr || bob_answered) return 1;
      const bool last = pk.data[28 + 6] == pk.data[28 + 4] && pk.data[28 + 7] == pk.data[28 + 5];
      if (last) bob_answered = true;
      return 0;
    };
    const uint64_t spi = p.start();
    run_until_up(p, spi, 10);
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(p.bob.counters().duplicates_answered == 1);
    CHECK(p.alice.counters().retransmits == 1);
  }

  TEST_CASE("fragmentation off on one side: nothing is fragmented, SKF is refused") {
    BigChain pki;
    Pair p;
    pki.use(p.alice_config, "alice");
    pki.use(p.bob_config, "bob");
    p.bob_config.fragmentation = false;
    const uint64_t spi = p.start();
    p.run();
    CHECK_FALSE(p.alice.find(spi)->fragmentation);
    CHECK(p.alice.find(spi)->state == IkeState::Established);  // no MTU in the test network
    for (const auto& pk : p.net.sent) CHECK_FALSE(is_skf(pk));
    CHECK(p.alice.counters().fragments_sent == 0);
  }
}
