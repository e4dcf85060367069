// SPDX-License-Identifier: Apache-2.0
// Signature schemes in the engine pair (RFC 7427, RFC 7296 §3.8, RFC 4754): the legacy AUTH
// methods 1 and 9/10/11 towards a peer that announced no SIGNATURE_HASH_ALGORITHMS, RSA with
// each PKCS#1 v1.5 and PSS hash, the signature_schemes lists of either side (what we sign
// with, what we accept and so announce), and tampered AUTH payloads refused by the verifier,
// each failure with its specific reason.
#include <doctest/doctest.h>

#include "ike/connections.h"
#include "ike/v2/authenticator.h"
#include "ike_cert_harness.h"

using namespace ike_test;
using namespace ike_cert_test;
using crypto::KeyType;
using S = crypto::SignatureScheme;

namespace {

const std::string kAliceCert = "certificate \"C=DE, O=Example, CN=alice\" (";
const std::string kBobCert = "certificate \"C=DE, O=Example, CN=bob\" (";

uint64_t establish(Pair& p) {
  const uint64_t spi = p.start();
  p.run();
  check_up(p, spi);
  return spi;
}

// How Alice's AUTH signed, as Bob logged it; and Bob's, as Alice did.
std::string alice_signed(const Pair& p) { return p.bob_sa()->peer_auth_text; }
std::string bob_signed(const Pair& p, uint64_t spi) { return p.alice.find(spi)->peer_auth_text; }

std::string text(const std::string& who, S s) {
  return who + std::string(crypto::scheme_name(s)) + ")";
}

}  // namespace

TEST_SUITE("ike signature schemes") {
  TEST_CASE("legacy AUTH methods 1 and 9/10/11 when the peer announced no hashes") {
    // RFC 7427 §4: neither side sends SIGNATURE_HASH_ALGORITHMS, so each signs with the AUTH
    // method of its key: 1 (RSA PKCS#1 v1.5 with SHA-1, RFC 7296 §3.8), 9/10/11 (ECDSA r|s
    // with the curve's hash, RFC 4754); EdDSA exists only in method 14.
    const std::pair<KeyType, const char*> cases[] = {{KeyType::Rsa, "rsa-pkcs1-sha1"},
                                                     {KeyType::EcP256, "ecdsa-sha256 (r|s)"},
                                                     {KeyType::EcP384, "ecdsa-sha384 (r|s)"},
                                                     {KeyType::EcP521, "ecdsa-sha512 (r|s)"},
                                                     {KeyType::Ed25519, "ed25519"}};
    for (const auto& [t, scheme] : cases) {
      CAPTURE(crypto::key_type_name(t));
      Pki pki;
      Pair p;
      use_certs(p, pki, t, t);
      p.alice_config.announce_signature_hashes = p.bob_config.announce_signature_hashes = false;
      const uint64_t spi = establish(p);
      CHECK(p.alice.find(spi)->peer_sig_hashes.empty());
      CHECK(p.bob_sa()->peer_sig_hashes.empty());
      CHECK(alice_signed(p) == kAliceCert + scheme + ")");
      CHECK(bob_signed(p, spi) == kBobCert + scheme + ")");
    }
  }

  TEST_CASE("only Alice announces: Bob signs with RFC 7427, Alice with method 9") {
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    p.bob_config.announce_signature_hashes = false;
    const uint64_t spi = establish(p);
    CHECK(alice_signed(p) == kAliceCert + "ecdsa-sha256 (r|s))");
    CHECK(bob_signed(p, spi) == kBobCert + "ecdsa-sha256)");
  }

  TEST_CASE("RSA with each PKCS#1 v1.5 and PSS hash; ECDSA with any hash on any curve") {
    // Alice may use only `s`, Bob accepts only `s` (and so announces only its hash).
    const std::pair<KeyType, S> cases[] = {
        {KeyType::Rsa, S::RsaPkcs1Sha256}, {KeyType::Rsa, S::RsaPkcs1Sha384},
        {KeyType::Rsa, S::RsaPkcs1Sha512}, {KeyType::Rsa, S::RsaPssSha384},
        {KeyType::Rsa, S::RsaPssSha512},   {KeyType::EcP256, S::EcdsaSha512},
        {KeyType::EcP521, S::EcdsaSha256}, {KeyType::Ed448, S::Ed448}};
    for (const auto& [t, s] : cases) {
      CAPTURE(crypto::scheme_name(s));
      Pki pki;
      Pair p;
      use_certs(p, pki, t, KeyType::EcP256);
      p.alice_config.local_signature_schemes = {s};
      p.bob_config.remote_signature_schemes = {s};
      const uint64_t spi = establish(p);
      CHECK(p.alice.find(spi)->peer_sig_hashes == std::vector<uint16_t>{crypto::signature_hash(s)});
      CHECK(alice_signed(p) == text(kAliceCert, s));
    }
  }

  TEST_CASE("we announce the hashes of the remote list, so the peer picks a scheme we accept") {
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    p.bob_config.remote_signature_schemes = {S::Ed25519, S::EcdsaSha384};
    uint64_t spi = establish(p);
    CHECK(p.alice.find(spi)->peer_sig_hashes == std::vector<uint16_t>{3, 5});
    CHECK(p.bob_sa()->peer_sig_hashes == std::vector<uint16_t>{2, 3, 4, 5});
    CHECK(alice_signed(p) == text(kAliceCert, S::EcdsaSha384));
    CHECK(bob_signed(p, spi) == text(kBobCert, S::EcdsaSha256));
    // rsa-pkcs1-sha1 alone: no hash to announce (never SHA-1, RFC 8247), so the peer falls
    // back to method 1, which the list accepts.
    Pair q;
    use_certs(q, pki, KeyType::Rsa, KeyType::Rsa);
    q.bob_config.remote_signature_schemes = {S::RsaPkcs1Sha1};
    spi = establish(q);
    CHECK(q.alice.find(spi)->peer_sig_hashes.empty());
    CHECK(alice_signed(q) == text(kAliceCert, S::RsaPkcs1Sha1));
    CHECK(bob_signed(q, spi) == text(kBobCert, S::RsaPssSha256));
  }

  TEST_CASE("the local list orders our choice, within what the peer announced") {
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::Rsa, KeyType::EcP256);
    p.alice_config.local_signature_schemes = {S::RsaPkcs1Sha512, S::RsaPssSha256};
    establish(p);
    CHECK(alice_signed(p) == text(kAliceCert, S::RsaPkcs1Sha512));
    Pair q;
    use_certs(q, pki, KeyType::Rsa, KeyType::EcP256);
    q.alice_config.local_signature_schemes = {S::RsaPkcs1Sha512, S::RsaPssSha256};
    q.bob_config.remote_signature_schemes = {S::RsaPssSha256, S::RsaPkcs1Sha256};  // sha256
    establish(q);
    CHECK(alice_signed(q) == text(kAliceCert, S::RsaPssSha256));
  }

  TEST_CASE("a scheme the remote list does not allow: AUTHENTICATION_FAILED with the reason") {
    Pki pki;
    Pair p;
    std::string reason;
    SUBCASE("RFC 7427: RSA-PSS with SHA-384, the announced hash") {
      use_certs(p, pki, KeyType::Rsa, KeyType::EcP256);
      p.bob_config.remote_signature_schemes = {S::Ed25519, S::EcdsaSha384};
      reason =
          "peer signed with rsa-pss-sha384, not allowed by signature_schemes "
          "[ed25519, ecdsa-sha384]";
    }
    SUBCASE("method 1 from a peer that saw no hashes") {
      use_certs(p, pki, KeyType::Rsa, KeyType::Rsa);
      p.bob_config.announce_signature_hashes = false;
      p.bob_config.remote_signature_schemes = {S::RsaPssSha256};
      reason =
          "peer signed with rsa-pkcs1-sha1, not allowed by signature_schemes "
          "[rsa-pss-sha256]";
    }
    SUBCASE("method 9") {
      use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
      p.bob_config.announce_signature_hashes = false;
      p.bob_config.remote_signature_schemes = {S::EcdsaSha384};
      reason = "peer signed with ecdsa-sha256, not allowed by signature_schemes [ecdsa-sha384]";
    }
    REQUIRE_FALSE(reason.empty());
    const uint64_t spi = p.start();
    p.run();
    check_refused(p, spi, reason);
  }

  TEST_CASE("our list leaves nothing the peer announced: our IKE SA fails, saying why") {
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    p.alice_config.local_signature_schemes = {S::EcdsaSha256};
    p.bob_config.remote_signature_schemes = {S::EcdsaSha384};
    const uint64_t spi = p.start();
    p.run();
    const ClosedSa* a = p.alice.closed(spi);
    REQUIRE(a != nullptr);
    CHECK_MESSAGE(a->reason.find("signature_schemes [ecdsa-sha256] leaves our ecdsa-p256 key "
                                 "no scheme the peer's SIGNATURE_HASH_ALGORITHMS [sha384] "
                                 "allows") != std::string::npos,
                  a->reason);
    CHECK(p.sas(p.alice_kernel).empty());
  }

  TEST_CASE("a tampered AUTH is refused by the verifier, saying why") {
    // Alice's AUTH of an established pair, built again from her SA, verified with Bob's SA:
    // as built it verifies; each spoiled copy is refused with its reason.
    for (bool announce : {true, false})
      for (KeyType t : {KeyType::EcP256, KeyType::Rsa, KeyType::Ed25519}) {
        CAPTURE(announce);
        CAPTURE(crypto::key_type_name(t));
        Pki pki;
        Pair p;
        use_certs(p, pki, t, t);
        p.alice_config.announce_signature_hashes = p.bob_config.announce_signature_hashes =
            announce;
        Connections conns;  // the credentials, as the engines hold them
        conns.add(p.alice_config);
        conns.add(p.bob_config);
        const uint64_t spi = establish(p);
        const IkeSa& a = *p.alice.find(spi);
        const IkeSa& b = *p.bob_sa();
        auto signer = make_authenticator(a, conns.credentials(), true);
        REQUIRE(signer);
        auto auth = (*signer)->build(a);
        REQUIRE(auth);
        auto verifier = make_authenticator(b, conns.credentials(), false, auth->method);
        REQUIRE(verifier);
        const std::vector<wire::Payload> msg{
            wire::CertPayload{static_cast<uint8_t>(wire::CertEncoding::X509Signature),
                              conns.credentials().pubkey("to-bob")->chain.front().der()}};
        auto verify = [&](const wire::AuthPayload& x) {
          auto r = (*verifier)->verify(b, b.peer_id, x, msg);
          return r ? std::string() : r.error().message;
        };
        CHECK(verify(*auth).empty());
        wire::AuthPayload spoiled = *auth;
        spoiled.data.back() ^= 0x01;
        CHECK(verify(spoiled).find("signature of \"C=DE, O=Example, CN=alice\" did not verify: ") ==
              0);
        CHECK(verify(spoiled).find("the signature does not verify") != std::string::npos);
        spoiled = *auth;
        spoiled.data.resize(spoiled.data.size() - 1);
        CHECK_FALSE(verify(spoiled).empty());
        if (auth->method == static_cast<uint8_t>(wire::AuthMethod::DigitalSignature)) {
          spoiled = *auth;
          spoiled.data[3] ^= 0x40;  // inside the AlgorithmIdentifier's OID
          CHECK(verify(spoiled) == "AUTH names a signature algorithm we do not know");
          spoiled.data.resize(2);
          CHECK(verify(spoiled) == "AUTH data too short for its AlgorithmIdentifier");
        } else if (t == KeyType::EcP256) {
          spoiled = *auth;
          spoiled.data.pop_back();
          CHECK(verify(spoiled).find("ecdsa-sha256: an r|s signature of 63 bytes, expected 64") !=
                std::string::npos);
        }
      }
  }
}
