// SPDX-License-Identifier: Apache-2.0
// OCSP (RFC 6960) for the peer's certificate chain: a request for a certificate and its
// issuer with a nonce (RFC 8954), the response checked (signed by the CA or a responder it
// delegated to, the nonce echoed, the certificate's status, the validity window), answers
// cached until nextUpdate, over an injectable transport; the HTTP POST one (RFC 6960
// App. A.1) uses OpenSSL's HTTP client, bounded in time and size. No OpenSSL type here.
#pragma once

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/pki.h"

namespace ipsec::crypto {

// When the peer's certificates are checked by OCSP (strongSwan's revocation policies). A
// "revoked" answer always fails; a CRL of the issuer held in the trust store is a definite
// status too, so an OCSP failure then falls back to it.
enum class OcspPolicy : uint8_t {
  // A certificate is asked about when a responder is known (the connection's ocsp_uri for
  // the end entity, else the certificate's AIA); then no definite answer fails.
  IfUri,
  // As IfUri, and the end entity must have a definite good status (OCSP or a CRL).
  Strict,
  Never,  // no OCSP at all
};
std::string_view ocsp_policy_name(OcspPolicy p);  // "ifuri", "strict", "never"

constexpr std::chrono::seconds kOcspTimeout{3};        // a whole HTTP exchange
constexpr size_t kOcspMaxResponse = 64 * 1024;         // bytes of an OCSPResponse
constexpr std::time_t kOcspSkew = 5 * 60;              // clock difference tolerated
constexpr std::time_t kOcspDefaultCacheTime = 5 * 60;  // an answer without nextUpdate
constexpr size_t kOcspCacheEntries = 1024;

// "http://host[:port][/path]"; anything else (https, no host, garbage) refused with why.
Result<void> check_ocsp_uri(std::string_view uri);
// The OCSP responders a certificate names (AIA id-ad-ocsp, RFC 5280 §4.2.2.1), in order.
std::vector<std::string> ocsp_uris(const Certificate& cert);

struct OcspRequest {
  Bytes der;      // the OCSPRequest (RFC 6960 §4.1.1)
  Bytes cert_id;  // its DER CertID (SHA-1 of the issuer's name and key, serial)
};
// For `cert` issued by `issuer`, with a random 32-byte nonce unless `nonce` is false.
Result<OcspRequest> make_ocsp_request(const Certificate& cert, const Certificate& issuer,
                                      bool nonce = true);

enum class CertStatus : uint8_t { Good, Revoked, Unknown };
std::string_view cert_status_name(CertStatus s);  // "good", "revoked", "unknown"

struct OcspAnswer {
  CertStatus status = CertStatus::Unknown;
  std::time_t revoked_at = 0;  // Revoked
  long reason = -1;            // Revoked: CRLReason (RFC 5280 §5.3.1), -1 when not given
  std::time_t this_update = 0;
  std::time_t next_update = 0;  // 0: not given (the responder has newer data at any time)
};

// RFC 6960 §3.2 and §4.2: the response to `request` (for a certificate of `issuer`) is
// "successful", a basic response signed by the issuer or by a responder certificate the
// issuer gave id-kp-OCSPSigning (verified up to one of `trust`'s anchors at `now`), echoes
// the request's nonce if it has one (RFC 8954: a response without is accepted, one with
// another is not), has a status for the certificate and is current at `now` (thisUpdate
// and nextUpdate within kOcspSkew). The error says which of these failed.
Result<OcspAnswer> check_ocsp_response(ByteView response, const OcspRequest& request,
                                       const Certificate& issuer, const TrustStore& trust,
                                       std::time_t now);

// Carries an OCSPRequest to a responder and its OCSPResponse back.
class OcspTransport {
 public:
  virtual ~OcspTransport() = default;
  // The DER response from `uri`; an error when none came ("did not answer (...)").
  virtual Result<Bytes> post(const std::string& uri, ByteView request) = 0;
};
// HTTP POST over OpenSSL's client (ocsp_http.cpp) on a connection of its own: the connect
// and the exchange bounded by `timeout` (a host name is resolved first, unbounded), the
// response by `max_response` bytes; never through a proxy (http_proxy is ignored).
std::unique_ptr<OcspTransport> http_ocsp_transport(std::chrono::seconds timeout = kOcspTimeout,
                                                   size_t max_response = kOcspMaxResponse);

// Runs OCSP exchanges away from the engine's thread, so that a slow or silent responder
// never stalls IKE: fetch() hands one over and returns at once; the engine's thread later
// hands each outcome to OcspClient::complete.
class OcspFetcher {
 public:
  virtual ~OcspFetcher() = default;
  virtual void fetch(uint64_t id, const std::string& uri, Bytes request) = 0;
};

// An OcspFetcher on a few threads of its own over `transport` (which must be usable from
// them: the HTTP one opens a connection per exchange). `notify` runs on a fetch thread after
// each outcome is ready for take(); the owner then takes them on its own thread.
class ThreadedOcspFetcher final : public OcspFetcher {
 public:
  struct Outcome {
    uint64_t id = 0;
    Result<Bytes> der = fail("not fetched");
  };
  static constexpr size_t kThreads = 4;  // exchanges under way at once

  ThreadedOcspFetcher(OcspTransport& transport, std::function<void()> notify);
  ~ThreadedOcspFetcher() override;  // waits for the exchanges under way (each is bounded)
  ThreadedOcspFetcher(const ThreadedOcspFetcher&) = delete;
  ThreadedOcspFetcher& operator=(const ThreadedOcspFetcher&) = delete;

  void fetch(uint64_t id, const std::string& uri, Bytes request) override;
  std::vector<Outcome> take();

 private:
  struct Job {
    uint64_t id;
    std::string uri;
    Bytes request;
  };
  void run();

  OcspTransport& transport_;
  std::function<void()> notify_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Job> jobs_;
  std::vector<Outcome> done_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

// What an OcspClient did (ipsecctl status shows them as ocsp_* counters).
struct OcspCounters {
  uint64_t requests = 0;    // sent to a responder
  uint64_t cache_hits = 0;  // answered from the cache
  uint64_t failed = 0;      // no usable answer: no connection, refused, bad signature, ...
  uint64_t revoked = 0;     // "revoked" answers received
};

// The error code of an answer not there yet (an OcspFetcher is fetching it): ask again
// once OcspClient::complete has been called.
constexpr int kOcspPending = EINPROGRESS;
inline bool ocsp_pending(const Error& e) { return e.code == kOcspPending; }
constexpr size_t kOcspMaxPending = 256;   // exchanges under way or not yet asked for again
constexpr std::time_t kOcspOutcomeTime = 10;  // a fetched outcome waits this long for its asker

// Asks responders and remembers their good and revoked answers (by CertID) until their
// nextUpdate, or kOcspDefaultCacheTime without one. One per engine: not thread-safe. The
// wall clock is injectable for tests.
//
// With an OcspFetcher (set_fetcher), status() never waits: an answer not cached is fetched
// by the fetcher and status() fails with kOcspPending until complete() has its outcome; the
// next status() for that certificate and responder then checks and returns it (an outcome
// not asked for within kOcspOutcomeTime is dropped). Without one, status() asks the
// transport itself and blocks for as long as the exchange takes.
class OcspClient {
 public:
  using WallClock = std::function<std::time_t()>;
  explicit OcspClient(OcspTransport& transport, WallClock clock = nullptr);

  void set_fetcher(OcspFetcher* fetcher) { fetcher_ = fetcher; }
  // The outcome of the fetch `id` (from the fetcher, on this client's thread).
  void complete(uint64_t id, Result<Bytes> der);

  // The checked answer for `cert` from the responder at `uri`, cached or fetched now; the
  // error says why there is none ("OCSP responder http://... did not answer (...)").
  Result<OcspAnswer> status(const Certificate& cert, const Certificate& issuer,
                            const std::string& uri, const TrustStore& trust);
  std::time_t now() const { return clock_(); }
  size_t cached() const { return cache_.size(); }
  size_t pending() const { return fetches_.size(); }
  const OcspCounters& counters() const { return counters_; }

 private:
  struct Entry {
    OcspAnswer answer;
    std::time_t until = 0;
  };
  // A fetch by the fetcher, by CertID and responder.
  struct Fetch {
    uint64_t id = 0;
    OcspRequest request;
    std::time_t done_at = 0;  // 0: under way
    Result<Bytes> der = fail("not fetched");
  };
  Result<OcspAnswer> fetch_later(const OcspRequest& request, const Certificate& issuer,
                                 const std::string& uri, const TrustStore& trust);
  Result<OcspAnswer> checked(Result<Bytes> der, const OcspRequest& request,
                             const Certificate& issuer, const std::string& uri,
                             const TrustStore& trust, std::time_t now);
  void remember(const Bytes& cert_id, const OcspAnswer& answer, std::time_t now);

  OcspTransport& transport_;
  WallClock clock_;
  OcspFetcher* fetcher_ = nullptr;
  std::map<Bytes, Entry> cache_;
  std::map<std::pair<Bytes, std::string>, Fetch> fetches_;
  uint64_t next_id_ = 1;
  OcspCounters counters_;
};

// Revocation of a chain `trust` verified (leaf first, anchor last) by OCSP under `policy`:
// the end entity is asked at `leaf_uri` (empty: its AIA), each intermediate at its AIA. The
// error names the certificate and says why: "certificate C=DE, O=Example, CN=gw-b revoked
// on 2026-11-02 (keyCompromise), by OCSP responder http://192.0.2.9/", "certificate
// C=DE, O=Example, CN=gw-b: OCSP responder http://192.0.2.9/ did not answer (...)".
// `client` nullptr: no responder can be reached (every fetch fails). With a fetcher, the
// certificates whose answers are not there yet are all sent for, and the error then has
// code kOcspPending.
Result<void> check_revocation(OcspClient* client, const TrustStore& trust,
                              std::span<const Certificate> chain, OcspPolicy policy,
                              const std::string& leaf_uri);

}  // namespace ipsec::crypto
