// SPDX-License-Identifier: Apache-2.0
// ocsp.h: requests (CertID, nonce), responses made in-process by OpenSSL (good, revoked,
// unknown, bad nonce, wrong signer, refused, out of date), the cache under an injected
// clock, the revocation policy over a verified chain (ifuri, strict, never, CRL fallback)
// with the operator-readable reasons, and the HTTP transport's failures on loopback.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "crypto_ocsp_fixtures.h"

using namespace ipsec;
using namespace ipsec::crypto;
using namespace pki_test;
using ocsp_test::Entry;
using ocsp_test::Nonce;

namespace {

constexpr std::time_t kNow = kT0 + 30 * kDay;  // kT0 is 2023-11-14 22:13:20 UTC
constexpr const char* kUri = "http://192.0.2.9/";

Names names(const std::string& cn) { return {{"C", "DE"}, {"O", "Example"}, {"CN", cn}}; }

X509Ptr issued(const std::string& cn, EVP_PKEY* k, X509* ca, EVP_PKEY* ca_key, long serial,
               std::string ocsp_uri = {}, std::string eku = {}) {
  CertSpec spec;
  spec.subject = names(cn);
  spec.key = k;
  spec.issuer = ca;
  spec.issuer_key = ca_key;
  spec.serial = serial;
  spec.not_after = kT0 + 365 * kDay;
  spec.ocsp_uri = std::move(ocsp_uri);
  spec.eku = std::move(eku);
  return make_cert(spec);
}

// A CA, its delegated responder (serial 20), gw-b (serial 10, AIA naming kUri) and gw-c
// (serial 11, no AIA); the responder knows both as good until told otherwise.
struct Setup {
  Pkey ca_key = generate(KeyType::EcP256);
  X509Ptr ca = ca_cert(names("Example CA"), ca_key.get(), nullptr, nullptr, 1);
  Pkey responder_key = generate(KeyType::EcP256);
  X509Ptr responder =
      issued("Example OCSP", responder_key.get(), ca.get(), ca_key.get(), 20, {}, "OCSPSigning");
  X509Ptr leaf = issued("gw-b", key(KeyType::EcP256), ca.get(), ca_key.get(), 10, kUri);
  X509Ptr bare = issued("gw-c", key(KeyType::EcP256), ca.get(), ca_key.get(), 11);
  TrustStore trust;
  ocsp_test::Responder r;
  ocsp_test::Transport transport{r};
  std::time_t clock = kNow;
  OcspClient client{transport, [this] { return clock; }};

  Setup() {
    trust.add_anchor(certificate(ca.get()));
    r.signer = responder.get();
    r.signer_key = responder_key.get();
    r.serials = {{10, Entry{}}, {11, Entry{}}};
    r.this_update = kNow - 60;
    r.next_update = kNow + 3600;
  }
  Certificate issuer() const { return certificate(ca.get()); }
  std::vector<Certificate> chain(X509* x) const { return {certificate(x), issuer()}; }

  Result<OcspAnswer> ask(X509* x, bool nonce = true) {
    auto req = make_ocsp_request(certificate(x), issuer(), nonce);
    REQUIRE(req);
    return check_ocsp_response(r.answer(req->der), *req, issuer(), trust, kNow);
  }
  std::string refused(X509* x) {
    auto a = ask(x);
    REQUIRE_FALSE(a);
    return a.error().message;
  }
  Result<void> check(X509* x, OcspPolicy policy, const std::string& uri = {}) {
    return check_revocation(&client, trust, chain(x), policy, uri);
  }
};

}  // namespace

TEST_SUITE("crypto ocsp") {
  TEST_CASE("a request holds the certificate's CertID and a nonce unless told not to") {
    Setup s;
    auto req = make_ocsp_request(certificate(s.leaf.get()), s.issuer());
    REQUIRE(req);
    const unsigned char* p = req->der.data();
    std::unique_ptr<OCSP_REQUEST, Free<OCSP_REQUEST_free>> parsed(
        d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(req->der.size())));
    REQUIRE(parsed != nullptr);
    REQUIRE(OCSP_request_onereq_count(parsed.get()) == 1);
    ASN1_INTEGER* serial = nullptr;
    OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(parsed.get(), 0));
    REQUIRE(OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial, id) == 1);
    CHECK(ASN1_INTEGER_get(serial) == 10);
    CHECK(OCSP_REQUEST_get_ext_by_NID(parsed.get(), NID_id_pkix_OCSP_Nonce, -1) >= 0);
    // The CertID is the same each time (the cache key), the nonce is not.
    auto again = make_ocsp_request(certificate(s.leaf.get()), s.issuer());
    REQUIRE(again);
    CHECK(again->cert_id == req->cert_id);
    CHECK(again->der != req->der);
    auto plain = make_ocsp_request(certificate(s.leaf.get()), s.issuer(), false);
    REQUIRE(plain);
    p = plain->der.data();
    parsed.reset(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(plain->der.size())));
    REQUIRE(parsed != nullptr);
    CHECK(OCSP_REQUEST_get_ext_by_NID(parsed.get(), NID_id_pkix_OCSP_Nonce, -1) < 0);
  }

  TEST_CASE("good, from a delegated responder or from the CA itself") {
    Setup s;
    auto a = s.ask(s.leaf.get());
    REQUIRE_MESSAGE(a, a.error().message);
    CHECK(a->status == CertStatus::Good);
    CHECK(a->this_update == kNow - 60);
    CHECK(a->next_update == kNow + 3600);
    s.r.signer = s.ca.get();
    s.r.signer_key = s.ca_key.get();
    a = s.ask(s.leaf.get());
    REQUIRE_MESSAGE(a, a.error().message);
    CHECK(a->status == CertStatus::Good);
  }

  TEST_CASE("revoked with date and reason; unknown") {
    Setup s;
    s.r.serials[10] =
        Entry{V_OCSP_CERTSTATUS_REVOKED, kT0 + 2 * kDay, OCSP_REVOKED_STATUS_KEYCOMPROMISE};
    auto a = s.ask(s.leaf.get());
    REQUIRE(a);
    CHECK(a->status == CertStatus::Revoked);
    CHECK(a->revoked_at == kT0 + 2 * kDay);
    CHECK(a->reason == OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    s.r.serials.erase(10);
    a = s.ask(s.leaf.get());
    REQUIRE(a);
    CHECK(a->status == CertStatus::Unknown);
  }

  TEST_CASE("nonce: another one is refused, none at all is accepted (RFC 8954)") {
    Setup s;
    s.r.nonce = Nonce::Wrong;
    CHECK(s.refused(s.leaf.get()) == "response nonce is not the one we sent");
    s.r.nonce = Nonce::Omit;
    CHECK(s.ask(s.leaf.get()));
    CHECK(s.ask(s.leaf.get(), false));
  }

  TEST_CASE("wrong signer: another CA's key, or a certificate of the CA not for OCSP signing") {
    Setup s;
    Pkey other_key = generate(KeyType::EcP256);
    X509Ptr other = ca_cert(names("Other CA"), other_key.get(), nullptr, nullptr, 1);
    s.r.signer = other.get();
    s.r.signer_key = other_key.get();
    CHECK(s.refused(s.leaf.get())
              .starts_with("response not signed by C=DE, O=Example, CN=Example CA or a responder "
                           "it delegated to"));
    // gw-c's own certificate: issued by the CA, but without id-kp-OCSPSigning.
    s.r.signer = s.bare.get();
    s.r.signer_key = key(KeyType::EcP256);
    CHECK(s.refused(s.leaf.get()).starts_with("response not signed by"));
  }

  TEST_CASE("refused, out of date, from the future, not a response") {
    Setup s;
    s.r.response_status = OCSP_RESPONSE_STATUS_TRYLATER;
    CHECK(s.refused(s.leaf.get()) == "responder refused: trylater");
    s.r.response_status = OCSP_RESPONSE_STATUS_SUCCESSFUL;
    s.r.this_update = kNow - 2 * kDay;
    s.r.next_update = kNow - kDay;
    CHECK(s.refused(s.leaf.get()) == "response out of date: its nextUpdate was 2023-12-13");
    s.r.this_update = kNow + kDay;
    s.r.next_update = 0;
    CHECK(s.refused(s.leaf.get()) ==
          "response not valid before 2023-12-15 (thisUpdate in the future)");
    s.r.this_update = kNow + 60;  // within the skew
    CHECK(s.ask(s.leaf.get()));
    auto req = make_ocsp_request(certificate(s.leaf.get()), s.issuer());
    REQUIRE(req);
    const Bytes junk{0x04, 0x01, 0x00};  // an OCTET STRING
    auto a = check_ocsp_response(junk, *req, s.issuer(), s.trust, kNow);
    REQUIRE_FALSE(a);
    CHECK(a.error().message.starts_with("not an OCSP response"));
  }

  TEST_CASE("responder URIs: the AIA's, and what a policy may name") {
    Setup s;
    CHECK(ocsp_uris(certificate(s.leaf.get())) == std::vector<std::string>{kUri});
    CHECK(ocsp_uris(certificate(s.bare.get())).empty());
    CHECK(check_ocsp_uri("http://192.0.2.9/"));
    CHECK(check_ocsp_uri("http://ocsp.example.org:8080/ocsp"));
    CHECK(check_ocsp_uri("http://[2001:db8::9]/"));
    CHECK(check_ocsp_uri("https://ocsp.example.org/").error().message ==
          "\"https://ocsp.example.org/\": https is not supported (OCSP answers are signed: use "
          "http)");
    for (const char* bad : {"ftp://x/", "http://", "ocsp.example.org", ""})
      CHECK_MESSAGE(check_ocsp_uri(bad).error().message ==
                        "\"" + std::string(bad) + "\" is not an http://host[:port]/path URI",
                    bad);
  }

  TEST_CASE("the client caches good and revoked answers until nextUpdate, not unknown ones") {
    Setup s;
    auto a = s.client.status(certificate(s.leaf.get()), s.issuer(), kUri, s.trust);
    REQUIRE(a);
    CHECK(s.client.status(certificate(s.leaf.get()), s.issuer(), kUri, s.trust));
    CHECK(s.client.counters().requests == 1);
    CHECK(s.client.cached() == 1);
    s.clock = kNow + 3601;  // past nextUpdate: asked again
    CHECK(s.client.status(certificate(s.leaf.get()), s.issuer(), kUri, s.trust));
    CHECK(s.client.counters().requests == 2);
    s.r.serials.erase(11);  // unknown: asked every time
    for (int i = 0; i < 2; ++i) {
      a = s.client.status(certificate(s.bare.get()), s.issuer(), kUri, s.trust);
      REQUIRE(a);
      CHECK(a->status == CertStatus::Unknown);
    }
    CHECK(s.client.counters().requests == 4);
    s.r.next_update = 0;  // no nextUpdate: kept for the default time
    s.clock = kNow + 7200;
    s.r.this_update = s.clock;
    CHECK(s.client.status(certificate(s.leaf.get()), s.issuer(), kUri, s.trust));
    s.clock += kOcspDefaultCacheTime - 1;
    CHECK(s.client.status(certificate(s.leaf.get()), s.issuer(), kUri, s.trust));
    CHECK(s.client.counters().requests == 5);
    s.clock += 1;
    CHECK(s.client.status(certificate(s.leaf.get()), s.issuer(), kUri, s.trust));
    CHECK(s.client.counters().requests == 6);
    // A failure of the check names the responder.
    s.r.nonce = Nonce::Wrong;
    a = s.client.status(certificate(s.bare.get()), s.issuer(), kUri, s.trust);
    REQUIRE_FALSE(a);
    CHECK(a.error().message ==
          "OCSP responder http://192.0.2.9/: response nonce is not the one we sent");
  }

  TEST_CASE("ifuri: asked when a responder is known; revoked and no answer fail, else pass") {
    Setup s;
    CHECK(s.check(s.leaf.get(), OcspPolicy::IfUri));
    CHECK(s.transport.uris == std::vector<std::string>{kUri});
    CHECK(s.check(s.bare.get(), OcspPolicy::IfUri));  // no AIA: not asked
    CHECK(s.transport.uris.size() == 1);
    s.r.serials[10] =
        Entry{V_OCSP_CERTSTATUS_REVOKED, kT0 + 2 * kDay, OCSP_REVOKED_STATUS_KEYCOMPROMISE};
    s.clock = kNow + 3601;  // past the cached good answer
    s.r.this_update = s.clock;
    s.r.next_update = s.clock + 3600;
    auto r = s.check(s.leaf.get(), OcspPolicy::IfUri);
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "certificate C=DE, O=Example, CN=gw-b revoked on 2023-11-16 (keyCompromise), by OCSP "
          "responder http://192.0.2.9/");
    s.transport.down = true;  // cached: the revocation stands without the responder
    CHECK(s.check(s.leaf.get(), OcspPolicy::IfUri).error().message.find("revoked on") !=
          std::string::npos);
    // The policy's URI for the end entity instead of its AIA; gw-c has none of its own.
    r = s.check(s.bare.get(), OcspPolicy::IfUri, "http://192.0.2.10:8080/");
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "certificate C=DE, O=Example, CN=gw-c: OCSP responder http://192.0.2.10:8080/ did not "
          "answer (Connection refused)");
    s.transport.down = false;
    s.r.serials.erase(11);
    r = s.check(s.bare.get(), OcspPolicy::IfUri, "http://192.0.2.10:8080/");
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "certificate C=DE, O=Example, CN=gw-c: OCSP responder http://192.0.2.10:8080/ does not "
          "know it (status unknown)");
  }

  TEST_CASE("strict: the end entity needs a definite status; a CRL of its issuer is one") {
    Setup s;
    auto r = s.check(s.bare.get(), OcspPolicy::Strict);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.starts_with(
        "certificate C=DE, O=Example, CN=gw-c: no revocation status (no OCSP responder known"));
    CHECK(s.check(s.leaf.get(), OcspPolicy::Strict));
    s.transport.down = true;
    s.clock = kNow + 3601;
    r = s.check(s.leaf.get(), OcspPolicy::Strict);
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "certificate C=DE, O=Example, CN=gw-b: OCSP responder http://192.0.2.9/ did not answer "
          "(Connection refused)");
    // With the CA's CRL held, the chain's CRL check is the status: both pass.
    REQUIRE(s.trust.add_crl(make_crl(s.ca.get(), s.ca_key.get(), {})));
    CHECK(s.check(s.bare.get(), OcspPolicy::Strict));
    CHECK(s.check(s.leaf.get(), OcspPolicy::Strict));
    // Without a client nothing is reached: as a responder that does not answer.
    Setup t;
    r = check_revocation(nullptr, t.trust, t.chain(t.leaf.get()), OcspPolicy::IfUri, {});
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "certificate C=DE, O=Example, CN=gw-b: OCSP responder http://192.0.2.9/ not asked");
  }

  TEST_CASE("never: no responder is asked, even about a revoked certificate") {
    Setup s;
    s.r.serials[10] = Entry{V_OCSP_CERTSTATUS_REVOKED, kT0, -1};
    CHECK(s.check(s.leaf.get(), OcspPolicy::Never));
    CHECK(s.transport.uris.empty());
    auto r = s.check(s.leaf.get(), OcspPolicy::IfUri);  // no reason given: no parenthesis
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "certificate C=DE, O=Example, CN=gw-b revoked on 2023-11-14, by OCSP responder "
          "http://192.0.2.9/");
  }
}

namespace {

// A TCP port on 127.0.0.1 that listens (never answering) while the socket is open, and
// refuses once it is closed.
struct LocalPort {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  uint16_t port = 0;
  LocalPort() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~LocalPort() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port) + "/"; }
};

}  // namespace

TEST_SUITE("crypto ocsp") {
  TEST_CASE("HTTP transport: a refused connection fails at once, a silent responder in time") {
    auto http = http_ocsp_transport(std::chrono::seconds(1));
    const Bytes request{0x30, 0x00};
    LocalPort silent;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = http->post(silent.uri(), request);
    const auto waited = std::chrono::steady_clock::now() - t0;
    REQUIRE_FALSE(r);
    CHECK_MESSAGE(
        r.error().message.starts_with("OCSP responder " + silent.uri() + " did not answer ("),
        r.error().message);
    CHECK(waited >= std::chrono::milliseconds(900));
    CHECK(waited < std::chrono::seconds(3));
    silent.close();
    r = http->post(silent.uri(), request);
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "OCSP responder " + silent.uri() + " did not answer (Connection refused)");
    r = http->post("https://127.0.0.1/", request);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "OCSP responder https://127.0.0.1/: not an http:// URI");
  }

  TEST_CASE("with a fetcher the client never waits: pending, then the answer, asked once") {
    struct Held final : ipsec::crypto::OcspFetcher {
      void fetch(uint64_t id, const std::string& uri, Bytes request) override {
        jobs.push_back({id, uri, std::move(request)});
      }
      std::vector<std::tuple<uint64_t, std::string, Bytes>> jobs;
    } held;
    Setup s;
    s.client.set_fetcher(&held);
    auto r = s.check(s.leaf.get(), OcspPolicy::IfUri);
    REQUIRE_FALSE(r);
    CHECK(ipsec::crypto::ocsp_pending(r.error()));
    REQUIRE(held.jobs.size() == 1);
    CHECK(std::get<1>(held.jobs[0]) == kUri);
    CHECK(s.transport.uris.empty());  // nothing on this thread
    // Asked again before the answer: still pending, not sent twice.
    r = s.check(s.leaf.get(), OcspPolicy::IfUri);
    CHECK((!r && ipsec::crypto::ocsp_pending(r.error())));
    CHECK(held.jobs.size() == 1);
    CHECK(s.client.pending() == 1);
    auto [id, uri, request] = held.jobs[0];
    s.client.complete(id, s.transport.post(uri, request));
    r = s.check(s.leaf.get(), OcspPolicy::IfUri);
    CHECK_MESSAGE(r, r.error().message);
    CHECK(s.client.pending() == 0);
    CHECK(s.client.counters().requests == 1);
    // Cached now: answered at once, no fetch.
    CHECK(s.check(s.leaf.get(), OcspPolicy::IfUri));
    CHECK(held.jobs.size() == 1);
    CHECK(s.client.counters().cache_hits == 1);

    SUBCASE("a revoked answer that came in is the outcome") {
      s.r.serials[11] = Entry{V_OCSP_CERTSTATUS_REVOKED, kNow - kDay, -1};
      r = s.check(s.bare.get(), OcspPolicy::IfUri, kUri);
      REQUIRE(held.jobs.size() == 2);
      auto [id2, uri2, request2] = held.jobs[1];
      s.client.complete(id2, s.transport.post(uri2, request2));
      r = s.check(s.bare.get(), OcspPolicy::IfUri, kUri);
      REQUIRE_FALSE(r);
      CHECK_MESSAGE(r.error().message.find("revoked") != std::string::npos, r.error().message);
    }
    SUBCASE("a responder that did not answer fails that one check, then is asked again") {
      r = s.check(s.bare.get(), OcspPolicy::IfUri, kUri);
      REQUIRE(held.jobs.size() == 2);
      s.client.complete(std::get<0>(held.jobs[1]), ipsec::fail("did not answer (timeout)"));
      r = s.check(s.bare.get(), OcspPolicy::IfUri, kUri);
      REQUIRE_FALSE(r);
      CHECK_FALSE(ipsec::crypto::ocsp_pending(r.error()));
      CHECK(r.error().message == "certificate C=DE, O=Example, CN=gw-c: did not answer (timeout)");
      r = s.check(s.bare.get(), OcspPolicy::IfUri, kUri);
      CHECK((!r && ipsec::crypto::ocsp_pending(r.error())));
      CHECK(held.jobs.size() == 3);
    }
    SUBCASE("an outcome nobody asks for again is dropped after a while") {
      r = s.check(s.bare.get(), OcspPolicy::IfUri, kUri);
      REQUIRE(held.jobs.size() == 2);
      s.client.complete(std::get<0>(held.jobs[1]), ipsec::fail("did not answer"));
      CHECK(s.client.pending() == 1);
      s.clock += ipsec::crypto::kOcspOutcomeTime + 1;
      s.client.complete(999, ipsec::fail("no such fetch"));
      CHECK(s.client.pending() == 0);
    }
    SUBCASE("at most kOcspMaxPending under way; beyond, a check fails at once") {
      for (size_t i = 0; s.client.pending() < ipsec::crypto::kOcspMaxPending; ++i)
        (void)s.check(s.bare.get(), OcspPolicy::IfUri, kUri + std::to_string(i));
      r = s.check(s.bare.get(), OcspPolicy::IfUri, "http://192.0.2.10/");
      REQUIRE_FALSE(r);
      CHECK_FALSE(ipsec::crypto::ocsp_pending(r.error()));
      CHECK_MESSAGE(r.error().message.find("requests are under way") != std::string::npos,
                    r.error().message);
    }
  }
}
