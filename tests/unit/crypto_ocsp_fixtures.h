// SPDX-License-Identifier: Apache-2.0
// An OCSP responder in the test process, made with OpenSSL's own API (OCSP_basic_sign,
// independent of the code under test): it answers a DER OCSPRequest with the status it
// holds for each serial, signed by whom the test says, with the nonce echoed, left out or
// wrong; and a transport that hands requests to it or fails like an unreachable responder.
#pragma once

#include <openssl/ocsp.h>

#include <map>
#include <string>

#include "crypto/ocsp.h"
#include "crypto_pki_fixtures.h"

namespace ocsp_test {

using ipsec::Bytes;
using ipsec::ByteView;
using pki_test::Free;

enum class Nonce { Echo, Omit, Wrong };

struct Entry {
  int status = V_OCSP_CERTSTATUS_GOOD;  // V_OCSP_CERTSTATUS_*
  std::time_t revoked_at = 0;
  int reason = -1;  // OCSP_REVOKED_STATUS_*, -1: none
};

struct Responder {
  X509* signer = nullptr;  // the CA itself or a delegated responder
  EVP_PKEY* signer_key = nullptr;
  std::map<long, Entry> serials;  // others: unknown
  Nonce nonce = Nonce::Echo;
  std::time_t this_update = 0;
  std::time_t next_update = 0;  // 0: none
  int response_status = OCSP_RESPONSE_STATUS_SUCCESSFUL;

  Bytes answer(ByteView request) const {
    const unsigned char* p = request.data();
    std::unique_ptr<OCSP_REQUEST, Free<OCSP_REQUEST_free>> req(
        d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(request.size())));
    REQUIRE(req != nullptr);
    if (response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) return encode(nullptr);
    std::unique_ptr<OCSP_BASICRESP, Free<OCSP_BASICRESP_free>> basic(OCSP_BASICRESP_new());
    std::unique_ptr<ASN1_TIME, Free<ASN1_TIME_free>> t_this(ASN1_TIME_set(nullptr, this_update));
    std::unique_ptr<ASN1_TIME, Free<ASN1_TIME_free>> t_next(
        next_update ? ASN1_TIME_set(nullptr, next_update) : nullptr);
    for (int i = 0; i < OCSP_request_onereq_count(req.get()); ++i) {
      OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), i));
      ASN1_INTEGER* serial = nullptr;
      REQUIRE(OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial, id) == 1);
      auto it = serials.find(ASN1_INTEGER_get(serial));
      const Entry e = it != serials.end() ? it->second : Entry{V_OCSP_CERTSTATUS_UNKNOWN};
      std::unique_ptr<ASN1_TIME, Free<ASN1_TIME_free>> t_rev(
          e.status == V_OCSP_CERTSTATUS_REVOKED ? ASN1_TIME_set(nullptr, e.revoked_at) : nullptr);
      REQUIRE(OCSP_basic_add1_status(basic.get(), id, e.status, e.reason, t_rev.get(), t_this.get(),
                                     t_next.get()) != nullptr);
    }
    if (nonce == Nonce::Echo) REQUIRE(OCSP_copy_nonce(basic.get(), req.get()) == 1);
    if (nonce == Nonce::Wrong) REQUIRE(OCSP_basic_add1_nonce(basic.get(), nullptr, 32) == 1);
    REQUIRE(OCSP_basic_sign(basic.get(), signer, signer_key, EVP_sha256(), nullptr, 0) == 1);
    return encode(basic.get());
  }

 private:
  Bytes encode(OCSP_BASICRESP* basic) const {
    std::unique_ptr<OCSP_RESPONSE, Free<OCSP_RESPONSE_free>> resp(
        OCSP_response_create(basic ? OCSP_RESPONSE_STATUS_SUCCESSFUL : response_status, basic));
    REQUIRE(resp != nullptr);
    unsigned char* der = nullptr;
    const int len = i2d_OCSP_RESPONSE(resp.get(), &der);
    REQUIRE(len > 0);
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
  }
};

// Hands each request to `responder`; with `down`, fails as OpenSSL's client does when
// nothing listens.
class Transport final : public ipsec::crypto::OcspTransport {
 public:
  explicit Transport(Responder& responder) : responder_(responder) {}
  ipsec::Result<Bytes> post(const std::string& uri, ByteView request) override {
    uris.push_back(uri);
    if (down) return ipsec::fail("OCSP responder " + uri + " did not answer (Connection refused)");
    return responder_.answer(request);
  }
  bool down = false;
  std::vector<std::string> uris;  // every request, in order

 private:
  Responder& responder_;
};

}  // namespace ocsp_test
