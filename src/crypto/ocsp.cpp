// SPDX-License-Identifier: Apache-2.0
// The OCSP client (RFC 6960): requests with a nonce (RFC 8954), response checks, the cache,
// and the revocation check of a verified chain under a connection's policy.
#include "crypto/ocsp.h"

#include <openssl/err.h>
#include <openssl/http.h>  // OSSL_HTTP_parse_url
#include <openssl/ocsp.h>

#include <optional>

#include "crypto/pki_internal.h"

namespace ipsec::crypto {
namespace {

namespace ossl_ocsp {
using RequestPtr = std::unique_ptr<OCSP_REQUEST, ossl::Deleter<OCSP_REQUEST_free>>;
using ResponsePtr = std::unique_ptr<OCSP_RESPONSE, ossl::Deleter<OCSP_RESPONSE_free>>;
using BasicPtr = std::unique_ptr<OCSP_BASICRESP, ossl::Deleter<OCSP_BASICRESP_free>>;
using CertIdPtr = std::unique_ptr<OCSP_CERTID, ossl::Deleter<OCSP_CERTID_free>>;
}  // namespace ossl_ocsp

struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

constexpr int kNonceBytes = 32;  // RFC 8954 §2.1: 1 to 32 octets, 32 recommended

template <class T, class F>
T* from_der(ByteView der, F d2i) {
  const unsigned char* p = der.data();
  return d2i(nullptr, &p, static_cast<long>(der.size()));
}

// The anchors as an X509_STORE whose verifications happen at `now`.
Result<ossl::X509StorePtr> anchor_store(const TrustStore& trust, std::time_t now) {
  ossl::X509StorePtr store(X509_STORE_new());
  if (!store) return ossl::fail_openssl("OCSP: out of memory");
  for (const auto& anchor : trust.anchors())
    if (X509_STORE_add_cert(store.get(), pki::x509_of(anchor)) != 1)
      return ossl::fail_openssl("OCSP: cannot add anchor " + anchor.subject_text());
  X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()), now);
  return store;
}

// RFC 6960 §4.2.2.2: the signer is the issuer itself or a certificate the issuer gave
// id-kp-OCSPSigning (OCSP_basic_verify checks both and the signer's chain to an anchor).
Result<void> verify_signer(OCSP_BASICRESP* basic, const Certificate& issuer,
                           const TrustStore& trust, std::time_t now) {
  auto store = anchor_store(trust, now);
  if (!store) return fail(store.error());
  X509StackPtr untrusted(sk_X509_new_null());
  if (!untrusted || sk_X509_push(untrusted.get(), pki::x509_of(issuer)) <= 0)
    return ossl::fail_openssl("OCSP: out of memory");
  if (OCSP_basic_verify(basic, untrusted.get(), store->get(), 0) <= 0)
    return ossl::fail_openssl("response not signed by " + issuer.subject_text() +
                              " or a responder it delegated to");
  return ok();
}

// RFC 6960 §4.2.2.1 with clock skew: thisUpdate not in the future, nextUpdate (if any) not
// in the past.
Result<void> check_window(const OcspAnswer& a, std::time_t now) {
  if (a.this_update == 0) return fail("response without a readable thisUpdate");
  if (a.this_update > now + kOcspSkew)
    return fail("response not valid before " + pki::utc_date(a.this_update) +
                " (thisUpdate in the future)");
  if (a.next_update != 0 && a.next_update < now - kOcspSkew)
    return fail("response out of date: its nextUpdate was " + pki::utc_date(a.next_update));
  return ok();
}

Result<OcspAnswer> find_status(OCSP_BASICRESP* basic, const OcspRequest& request) {
  ossl_ocsp::CertIdPtr id(from_der<OCSP_CERTID>(request.cert_id, d2i_OCSP_CERTID));
  if (!id) return ossl::fail_openssl("OCSP: cannot read the request's CertID");
  int status = -1, reason = -1;
  ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr, *next_update = nullptr;
  if (OCSP_resp_find_status(basic, id.get(), &status, &reason, &revoked, &this_update,
                            &next_update) != 1) {
    ERR_clear_error();
    return fail("response has no status for the certificate asked about");
  }
  OcspAnswer a;
  a.status = status == V_OCSP_CERTSTATUS_GOOD      ? CertStatus::Good
             : status == V_OCSP_CERTSTATUS_REVOKED ? CertStatus::Revoked
                                                   : CertStatus::Unknown;
  a.reason = a.status == CertStatus::Revoked ? reason : -1;
  a.revoked_at = pki::time_of(revoked);
  a.this_update = pki::time_of(this_update);
  a.next_update = pki::time_of(next_update);
  return a;
}

std::time_t system_wall_clock() { return std::time(nullptr); }

}  // namespace

std::string_view ocsp_policy_name(OcspPolicy p) {
  switch (p) {
    case OcspPolicy::IfUri:
      return "ifuri";
    case OcspPolicy::Strict:
      return "strict";
    case OcspPolicy::Never:
      return "never";
  }
  return "?";
}

std::string_view cert_status_name(CertStatus s) {
  switch (s) {
    case CertStatus::Good:
      return "good";
    case CertStatus::Revoked:
      return "revoked";
    case CertStatus::Unknown:
      return "unknown";
  }
  return "?";
}

Result<void> check_ocsp_uri(std::string_view uri) {
  const std::string text(uri);
  char* host = nullptr;
  int ssl = 0;
  const bool parsed = text.starts_with("http://") || text.starts_with("https://")
                          ? OSSL_HTTP_parse_url(text.c_str(), &ssl, nullptr, &host, nullptr,
                                                nullptr, nullptr, nullptr, nullptr) == 1
                          : false;
  const bool has_host = parsed && host != nullptr && *host != '\0';
  OPENSSL_free(host);
  ERR_clear_error();
  if (!parsed || !has_host) return fail("\"" + text + "\" is not an http://host[:port]/path URI");
  if (ssl)
    return fail("\"" + text + "\": https is not supported (OCSP answers are signed: use http)");
  return ok();
}

std::vector<std::string> ocsp_uris(const Certificate& cert) {
  std::vector<std::string> out;
  STACK_OF(OPENSSL_STRING)* uris = X509_get1_ocsp(pki::x509_of(cert));
  for (int i = 0; i < sk_OPENSSL_STRING_num(uris); ++i)
    out.emplace_back(sk_OPENSSL_STRING_value(uris, i));
  X509_email_free(uris);  // frees a STACK_OF(OPENSSL_STRING) and its strings
  return out;
}

Result<OcspRequest> make_ocsp_request(const Certificate& cert, const Certificate& issuer,
                                      bool nonce) {
  ossl_ocsp::RequestPtr req(OCSP_REQUEST_new());
  ossl_ocsp::CertIdPtr id(OCSP_cert_to_id(nullptr, pki::x509_of(cert), pki::x509_of(issuer)));
  if (!req || !id) return ossl::fail_openssl("OCSP request: cannot make the CertID");
  OcspRequest out;
  out.cert_id = pki::to_der(id.get(), i2d_OCSP_CERTID);
  if (out.cert_id.empty() || !OCSP_request_add0_id(req.get(), id.get()))
    return ossl::fail_openssl("OCSP request: cannot add the CertID");
  id.release();  // the request owns it now
  if (nonce && OCSP_request_add1_nonce(req.get(), nullptr, kNonceBytes) != 1)
    return ossl::fail_openssl("OCSP request: cannot add a nonce");
  out.der = pki::to_der(req.get(), i2d_OCSP_REQUEST);
  if (out.der.empty()) return ossl::fail_openssl("OCSP request: cannot encode");
  return out;
}

Result<OcspAnswer> check_ocsp_response(ByteView response, const OcspRequest& request,
                                       const Certificate& issuer, const TrustStore& trust,
                                       std::time_t now) {
  ossl_ocsp::ResponsePtr resp(from_der<OCSP_RESPONSE>(response, d2i_OCSP_RESPONSE));
  if (!resp) return ossl::fail_openssl("not an OCSP response");
  const int status = OCSP_response_status(resp.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
    return fail("responder refused: " + std::string(OCSP_response_status_str(status)));
  ossl_ocsp::BasicPtr basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) return ossl::fail_openssl("not a basic OCSP response");
  if (auto r = verify_signer(basic.get(), issuer, trust, now); !r) return fail(r.error());
  ossl_ocsp::RequestPtr req(from_der<OCSP_REQUEST>(request.der, d2i_OCSP_REQUEST));
  if (!req) return ossl::fail_openssl("OCSP: cannot read our request");
  // 1: echoed, 2: neither has one, -1: the responder sent none (a precomputed answer), 3:
  // only the response has one; 0: another nonce (a replayed answer).
  if (OCSP_check_nonce(req.get(), basic.get()) == 0) {
    ERR_clear_error();
    return fail("response nonce is not the one we sent");
  }
  auto answer = find_status(basic.get(), request);
  if (!answer) return fail(answer.error());
  if (auto r = check_window(*answer, now); !r) return fail(r.error());
  ERR_clear_error();
  return answer;
}

OcspClient::OcspClient(OcspTransport& transport, WallClock clock)
    : transport_(transport), clock_(clock ? std::move(clock) : WallClock(system_wall_clock)) {}

Result<OcspAnswer> OcspClient::status(const Certificate& cert, const Certificate& issuer,
                                      const std::string& uri, const TrustStore& trust) {
  auto request = make_ocsp_request(cert, issuer);
  if (!request) return fail(request.error());
  const std::time_t now = clock_();
  if (auto it = cache_.find(request->cert_id); it != cache_.end()) {
    if (it->second.until > now) {
      ++counters_.cache_hits;
      return it->second.answer;
    }
    cache_.erase(it);
  }
  if (fetcher_ != nullptr) return fetch_later(*request, issuer, uri, trust);
  ++counters_.requests;
  return checked(transport_.post(uri, request->der), *request, issuer, uri, trust, now);
}

Result<OcspAnswer> OcspClient::fetch_later(const OcspRequest& request, const Certificate& issuer,
                                           const std::string& uri, const TrustStore& trust) {
  const auto key = std::make_pair(request.cert_id, uri);
  if (auto it = fetches_.find(key); it != fetches_.end()) {
    if (it->second.done_at == 0) return fail("OCSP responder " + uri + " asked", kOcspPending);
    Fetch f = std::move(it->second);
    fetches_.erase(it);
    return checked(std::move(f.der), f.request, issuer, uri, trust, clock_());
  }
  if (fetches_.size() >= kOcspMaxPending) {
    ++counters_.failed;
    return fail("OCSP responder " + uri + " not asked: " + std::to_string(kOcspMaxPending) +
                " requests are under way");
  }
  ++counters_.requests;
  const uint64_t id = next_id_++;
  fetches_.emplace(key, Fetch{id, request, 0, fail("not fetched")});
  fetcher_->fetch(id, uri, request.der);
  return fail("OCSP responder " + uri + " asked", kOcspPending);
}

void OcspClient::complete(uint64_t id, Result<Bytes> der) {
  const std::time_t now = clock_();
  // Outcomes nobody asked for again (the IKE SA went away) do not pile up.
  std::erase_if(fetches_, [&](const auto& e) {
    return e.second.done_at != 0 && e.second.done_at + kOcspOutcomeTime < now;
  });
  for (auto& [key, f] : fetches_) {
    if (f.id != id || f.done_at != 0) continue;
    f.done_at = now;
    f.der = std::move(der);
    return;
  }
}

Result<OcspAnswer> OcspClient::checked(Result<Bytes> der, const OcspRequest& request,
                                       const Certificate& issuer, const std::string& uri,
                                       const TrustStore& trust, std::time_t now) {
  if (!der) {
    ++counters_.failed;
    return fail(der.error().message);
  }
  auto answer = check_ocsp_response(*der, request, issuer, trust, now);
  if (!answer) {
    ++counters_.failed;
    return fail("OCSP responder " + uri + ": " + answer.error().message);
  }
  if (answer->status == CertStatus::Revoked) ++counters_.revoked;
  if (answer->status != CertStatus::Unknown) remember(request.cert_id, *answer, now);
  return answer;
}

void OcspClient::remember(const Bytes& cert_id, const OcspAnswer& answer, std::time_t now) {
  if (cache_.size() >= kOcspCacheEntries)
    std::erase_if(cache_, [&](const auto& e) { return e.second.until <= now; });
  if (cache_.size() >= kOcspCacheEntries) cache_.erase(cache_.begin());
  const std::time_t until =
      answer.next_update > now ? answer.next_update : now + kOcspDefaultCacheTime;
  cache_[cert_id] = Entry{answer, until};
}

namespace {

// One certificate of the chain: its status from the first responder that gives one.
Result<void> check_one(OcspClient* client, const TrustStore& trust, const Certificate& cert,
                       const Certificate& issuer, const std::vector<std::string>& uris,
                       bool strict) {
  const std::string subject = cert.subject_text();
  const bool crl = trust.has_crl_of(issuer);  // verify has checked it against that CRL
  if (uris.empty()) {
    if (!strict || crl) return ok();
    return fail("certificate " + subject +
                ": no revocation status (no OCSP responder known: neither ocsp_uri nor the "
                "certificate's AIA names one, and no CRL of its issuer), \"ocsp\": \"strict\"");
  }
  Error last{"no OCSP client", 0};
  for (const std::string& uri : uris) {
    auto a = client ? client->status(cert, issuer, uri, trust)
                    : Result<OcspAnswer>(fail("OCSP responder " + uri + " not asked"));
    if (!a) {
      if (ocsp_pending(a.error())) return fail(a.error());  // this responder first
      last = a.error();
      continue;
    }
    if (a->status == CertStatus::Revoked)
      return fail(revoked_text(subject, a->revoked_at, a->reason, "OCSP responder " + uri));
    if (a->status == CertStatus::Good) return ok();
    last = Error{"OCSP responder " + uri + " does not know it (status unknown)", 0};
  }
  if (crl) return ok();  // the CRL gave a definite status
  return fail("certificate " + subject + ": " + last.message);
}

}  // namespace

Result<void> check_revocation(OcspClient* client, const TrustStore& trust,
                              std::span<const Certificate> chain, OcspPolicy policy,
                              const std::string& leaf_uri) {
  if (policy == OcspPolicy::Never) return ok();
  // The anchor (last) is trusted as configured, not asked about. Answers still being
  // fetched do not stop the others from being sent for: the chain waits once.
  std::optional<Error> pending;
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    const bool leaf = i == 0;
    const std::vector<std::string> uris =
        leaf && !leaf_uri.empty() ? std::vector<std::string>{leaf_uri} : ocsp_uris(chain[i]);
    auto r = check_one(client, trust, chain[i], chain[i + 1], uris,
                       leaf && policy == OcspPolicy::Strict);
    if (r) continue;
    if (!ocsp_pending(r.error())) return r;
    if (!pending) pending = r.error();
  }
  if (pending) return fail(*pending);
  return ok();
}

}  // namespace ipsec::crypto
