// SPDX-License-Identifier: Apache-2.0
// Certificate authentication in the engine pair (RFC 7296 §2.15, §3.6-3.8, RFC 7427): every
// key type, with and without an intermediate CA, mixed certificate/PSK, DN identities and
// patterns; OCSP through an injected responder; each failure is AUTHENTICATION_FAILED with
// its specific reason. Keys and certificates are made by the test (crypto_pki_fixtures.h,
// crypto_ocsp_fixtures.h).
#include <doctest/doctest.h>

#include "crypto_ocsp_fixtures.h"
#include "ike_cert_harness.h"

using namespace ike_test;
using namespace ike_cert_test;
using crypto::KeyType;
namespace pt = pki_test;

namespace {

std::string utc_date(std::time_t t) {
  char text[16];
  struct tm tm {};
  REQUIRE(gmtime_r(&t, &tm) != nullptr);
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

// An OcspFetcher that keeps every fetch until the test hands its outcome over, as the
// daemon's fetch threads would after the exchange.
struct HeldFetcher final : crypto::OcspFetcher {
  struct Job {
    uint64_t id;
    std::string uri;
    Bytes request;
  };
  void fetch(uint64_t id, const std::string& uri, Bytes request) override {
    jobs.push_back({id, uri, std::move(request)});
  }
  // Every fetch so far answered through `transport`.
  void answer(crypto::OcspClient& client, crypto::OcspTransport& transport) {
    for (Job& j : std::exchange(jobs, {})) client.complete(j.id, transport.post(j.uri, j.request));
  }
  std::vector<Job> jobs;
};

// `name`'s certificate (serial 105) naming the responder at http://192.0.2.9/ in its AIA.
pt::X509Ptr cert_with_aia(Pki& pki, const std::string& name, KeyType t) {
  pt::CertSpec spec;
  spec.subject = names(name);
  spec.key = pt::key(t);
  spec.issuer = pki.ca.get();
  spec.issuer_key = pki.ca_key.get();
  spec.san = "DNS:" + name + ".example";
  spec.serial = 105;
  spec.not_before = kNow - 3600;
  spec.not_after = kNow + 30 * 86400;
  spec.ocsp_uri = "http://192.0.2.9/";
  return pt::make_cert(spec);
}

}  // namespace

TEST_SUITE("ike cert auth") {
  TEST_CASE("every key type, both sides, RFC 7427 signatures") {
    // The scheme each key signs with when the peer announced every hash: RSA-PSS before
    // PKCS#1 (RFC 8247), the ECDSA hash of the curve's size.
    const std::pair<KeyType, const char*> cases[] = {
        {KeyType::Rsa, "rsa-pss-sha256"},  {KeyType::EcP256, "ecdsa-sha256"},
        {KeyType::EcP384, "ecdsa-sha384"}, {KeyType::EcP521, "ecdsa-sha512"},
        {KeyType::Ed25519, "ed25519"},     {KeyType::Ed448, "ed448"}};
    for (const auto& [t, scheme] : cases) {
      CAPTURE(crypto::key_type_name(t));
      Pki pki;
      Pair p;
      use_certs(p, pki, t, t);
      const uint64_t spi = p.start();
      p.run();
      check_up(p, spi);
      // Both announced SHA2-256/384/512 and Identity (RFC 7427 §4).
      CHECK(p.alice.find(spi)->peer_sig_hashes == std::vector<uint16_t>{2, 3, 4, 5});
      CHECK(p.bob_sa()->peer_sig_hashes == std::vector<uint16_t>{2, 3, 4, 5});
      CHECK(p.bob_sa()->peer_auth_text ==
            "certificate \"C=DE, O=Example, CN=alice\" (" + std::string(scheme) + ")");
    }
  }

  TEST_CASE("an intermediate CA: sent with the certificate, the chain ends at the root") {
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::Rsa, true);
    const uint64_t spi = p.start();
    p.run();
    check_up(p, spi);
  }

  TEST_CASE("mixed: Alice signs with her certificate, Bob uses the PSK") {
    Pki pki;
    Pair p;
    const SecretBytes psk = p.alice_config.psk;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    p.alice_config.remote_auth = AuthMethod::Psk;
    p.alice_config.psk = psk;
    p.bob_config.local_auth = AuthMethod::Psk;
    p.bob_config.psk = psk;
    const uint64_t spi = p.start();
    p.run();
    const IkeSa* a = p.alice.find(spi);
    REQUIRE(a != nullptr);
    CHECK(a->state == IkeState::Established);
    CHECK(a->peer_cert_subject.empty());
    CHECK(p.bob_sa()->peer_cert_subject == "C=DE, O=Example, CN=alice");
  }

  TEST_CASE("DN identities: Alice's subject as her ID, Bob accepts CN=* of the organisation") {
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    auto dn = crypto::dn_from_text("C=DE, O=Example, CN=alice");
    auto pattern = crypto::dn_from_text("C=DE, O=Example, CN=*");
    REQUIRE((dn && pattern));
    p.alice_config.local_id = Identity{wire::IdType::DerAsn1Dn, *dn};
    p.bob_config.remote_id = IdentityMatch::dn_pattern(*pattern);
    const uint64_t spi = p.start();
    p.run();
    check_up(p, spi);
    CHECK(p.bob_sa()->peer_id.str() == "dn:C=DE, O=Example, CN=alice");
  }

  TEST_CASE("a DN pattern as remote id matches the certificate's subject, whatever the IDi") {
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    auto pattern = crypto::dn_from_text("C=DE, O=Example, CN=*");
    REQUIRE(pattern);
    p.bob_config.remote_id = IdentityMatch::dn_pattern(*pattern);  // Alice sends fqdn:
    uint64_t spi = p.start();
    p.run();
    check_up(p, spi);
    CHECK(p.bob_sa()->peer_id.str() == "fqdn:alice.example");
    // A pattern neither her IDi nor her subject fits: refused.
    Pair q;
    use_certs(q, pki, KeyType::EcP256, KeyType::EcP256);
    auto other = crypto::dn_from_text("C=DE, O=Other, CN=*");
    REQUIRE(other);
    q.bob_config.remote_id = IdentityMatch::dn_pattern(*other);
    spi = q.start();
    q.run();
    check_refused(q, spi,
                  "peer identity fqdn:alice.example is not the expected "
                  "dn:C=DE, O=Other, CN=*");
  }

  TEST_CASE("failures: AUTHENTICATION_FAILED with the specific reason") {
    // Each subcase spoils one thing of a pair that would come up; Alice then initiates.
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    std::string reason;
    SUBCASE("expired") {
      alice_valid(p, pki, -7200, -3600);
      reason = "certificate C=DE, O=Example, CN=alice expired on " + utc_date(kNow - 3600);
    }
    SUBCASE("not yet valid") {
      alice_valid(p, pki, 3600, 7200);
      reason = "certificate C=DE, O=Example, CN=alice is not valid before " + utc_date(kNow + 3600);
    }
    SUBCASE("a CA Bob does not trust") {
      Pki other;
      p.bob_config.cacerts = {pt::certificate(other.ca.get())};
      reason = "unable to get local issuer certificate";
    }
    SUBCASE("the ID is not in the certificate") {
      p.alice_config.local_id = Identity::fqdn("mallory.example");
      p.bob_config.remote_id = IdentityMatch::any();
      reason =
          "peer ID fqdn:mallory.example is neither the subject \"C=DE, O=Example, CN=alice\" of "
          "its certificate nor one of its subjectAltNames [alice.example]";
    }
    SUBCASE("revoked by a CRL") {
      // Alice's serial: 100 + 5.
      p.bob_config.crls = {
          pt::make_crl(pki.ca.get(), pki.ca_key.get(), {105}, true, kNow - 60, kNow + 86400)};
      reason = "certificate C=DE, O=Example, CN=alice revoked on " + utc_date(kNow - 60) +
               ", by CRL of C=DE, O=Example, CN=Example CA";
    }
    SUBCASE("a key that is not the certificate's") {
      auto other = pt::generate(KeyType::EcP256);
      p.alice_config.key = parsed(other.get());
      reason = "signature of \"C=DE, O=Example, CN=alice\" did not verify";
    }
    SUBCASE("no certificate sent (send_cert never) and none known") {
      p.alice_config.send_cert = SendCert::Never;
      reason = "no certificate from the peer (no CERT payload)";
    }
    REQUIRE_FALSE(reason.empty());
    const uint64_t spi = p.start();
    p.run();
    check_refused(p, spi, reason);
  }

  TEST_CASE("new CRLs on reload: SAs up stay, the next authentication checks them") {
    Pki pki;
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    p.bob_config.crls = {
        pt::make_crl(pki.ca.get(), pki.ca_key.get(), {}, true, kNow - 60, kNow + 86400)};
    const uint64_t spi = p.start();
    p.run();
    check_up(p, spi);
    // Alice (serial 105) is revoked now.
    p.bob.replace_crls(p.bob_config.name, {pt::make_crl(pki.ca.get(), pki.ca_key.get(), {105},
                                                        true, kNow - 30, kNow + 86400)});
    CHECK(p.bob_sa()->state == IkeState::Established);
    auto again = p.alice.initiate(p.alice_config.name);
    REQUIRE(again);
    p.run();
    const ClosedSa* a = p.alice.closed(*again);
    REQUIRE(a != nullptr);
    CHECK(a->reason == "authentication failed: peer rejected our AUTH");
    REQUIRE(p.bob_closed() != nullptr);
    CHECK_MESSAGE(p.bob_closed()->reason.find("revoked on " + utc_date(kNow - 30)) !=
                      std::string::npos,
                  p.bob_closed()->reason);
    // The first IKE SA is still up on both sides.
    CHECK(p.alice.find(spi)->state == IkeState::Established);
    CHECK(p.bob.sas().size() == 1);
  }

  TEST_CASE("OCSP: Bob asks the responder Alice's certificate names; revoked is refused") {
    // Alice's certificate names the responder in its AIA; the CA signs the answers itself.
    Pki pki;
    pt::CertSpec spec;
    spec.subject = names("alice");
    spec.key = pt::key(KeyType::EcP256);
    spec.issuer = pki.ca.get();
    spec.issuer_key = pki.ca_key.get();
    spec.san = "DNS:alice.example";
    spec.serial = 105;
    spec.not_before = kNow - 3600;
    spec.not_after = kNow + 30 * 86400;
    spec.ocsp_uri = "http://192.0.2.9/";
    auto alice_cert = pt::make_cert(spec);
    ocsp_test::Responder responder;
    responder.signer = pki.ca.get();
    responder.signer_key = pki.ca_key.get();
    responder.this_update = kNow - 60;
    responder.next_update = kNow + 3600;
    ocsp_test::Transport transport{responder};
    crypto::OcspClient client{transport};
    std::string reason;
    bool up = false;
    bool asked = true;
    std::optional<crypto::PrivateKey> forged;
    SUBCASE("good") {
      responder.serials[105] = ocsp_test::Entry{};
      up = true;
    }
    SUBCASE("revoked") {
      responder.serials[105] = ocsp_test::Entry{V_OCSP_CERTSTATUS_REVOKED, kNow - 86400,
                                                OCSP_REVOKED_STATUS_KEYCOMPROMISE};
      reason = "certificate C=DE, O=Example, CN=alice revoked on " + utc_date(kNow - 86400) +
               " (keyCompromise), by OCSP responder http://192.0.2.9/";
    }
    SUBCASE("unknown to the responder") {
      reason =
          "certificate C=DE, O=Example, CN=alice: OCSP responder http://192.0.2.9/ does "
          "not know it (status unknown)";
    }
    SUBCASE("the responder does not answer") {
      transport.down = true;
      reason =
          "certificate C=DE, O=Example, CN=alice: OCSP responder http://192.0.2.9/ did not "
          "answer (Connection refused)";
    }
    SUBCASE("\"ocsp\": \"never\" does not ask") {
      transport.down = true;
      up = true;
      asked = false;
    }
    SUBCASE("a signature that does not verify: refused before asking (certificates are public)") {
      auto other = pt::generate(KeyType::EcP256);
      forged = parsed(other.get());
      reason = "signature of \"C=DE, O=Example, CN=alice\" did not verify";
      asked = false;
    }
    Pair p;
    use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
    p.alice_config.certs = {pt::certificate(alice_cert.get())};
    if (up && transport.down) p.bob_config.ocsp = crypto::OcspPolicy::Never;
    if (forged) p.alice_config.key = forged;
    p.bob.set_ocsp(client);
    const uint64_t spi = p.start();
    p.run();
    if (up)
      check_up(p, spi);
    else
      check_refused(p, spi, reason);
    CHECK(transport.uris ==
          (asked ? std::vector<std::string>{"http://192.0.2.9/"} : std::vector<std::string>{}));
  }

  TEST_CASE("OCSP without waiting: the IKE_AUTH message is kept until the answer is in") {
    // With a fetcher (the daemon's fetch threads), the engine never waits on a responder: the
    // side that checks the certificate keeps the peer's IKE_AUTH message, goes on with other
    // work, and processes it when the answer is in. Either role may be the one waiting.
    for (const bool bob_checks : {true, false}) {
      CAPTURE(bob_checks);
      for (const bool revoked : {false, true}) {
        CAPTURE(revoked);
        Pki pki;
        ocsp_test::Responder responder;
        responder.signer = pki.ca.get();
        responder.signer_key = pki.ca_key.get();
        responder.this_update = kNow - 60;
        responder.next_update = kNow + 3600;
        responder.serials[105] =
            revoked ? ocsp_test::Entry{V_OCSP_CERTSTATUS_REVOKED, kNow - 86400,
                                       OCSP_REVOKED_STATUS_KEYCOMPROMISE}
                    : ocsp_test::Entry{};
        ocsp_test::Transport transport{responder};
        crypto::OcspClient client{transport};
        HeldFetcher fetcher;
        client.set_fetcher(&fetcher);
        Pair p;
        use_certs(p, pki, KeyType::EcP256, KeyType::EcP256);
        const std::string checked = bob_checks ? "alice" : "bob";
        auto cert = cert_with_aia(pki, checked, KeyType::EcP256);
        (bob_checks ? p.alice_config : p.bob_config).certs = {pt::certificate(cert.get())};
        Engine& checker = bob_checks ? p.bob : p.alice;
        checker.set_ocsp(client);
        const uint64_t spi = p.start();
        p.run();
        // Asked once, nobody answered yet: the message waits, nothing was decided.
        REQUIRE(fetcher.jobs.size() == 1);
        CHECK(fetcher.jobs[0].uri == "http://192.0.2.9/");
        CHECK(transport.uris.empty());
        CHECK(checker.waiting() == 1);
        CHECK(p.alice.find(spi)->state == IkeState::AuthSent);
        if (bob_checks) CHECK(p.bob_sa()->state == IkeState::SaInitDone);
        // Alice's retransmission (and Bob's cached answer to it) is judged again: still
        // waiting, and not asked for twice.
        p.advance(Millis(1000));
        p.run();
        CHECK(fetcher.jobs.size() == 1);
        CHECK(checker.waiting() == 1);
        CHECK(client.counters().requests == 1);
        fetcher.answer(client, transport);
        checker.resume();
        p.run();
        CHECK(checker.waiting() == 0);
        CHECK(client.pending() == 0);
        if (!revoked) {
          check_up(p, spi);
          continue;
        }
        const std::string why = "certificate C=DE, O=Example, CN=" + checked + " revoked on " +
                                utc_date(kNow - 86400) +
                                " (keyCompromise), by OCSP responder http://192.0.2.9/";
        if (bob_checks) {
          check_refused(p, spi, why);
        } else {
          const ClosedSa* a = p.alice.closed(spi);
          REQUIRE(a != nullptr);
          CHECK_MESSAGE(a->reason.find(why) != std::string::npos, a->reason);
        }
      }
    }
  }
}
