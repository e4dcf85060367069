// SPDX-License-Identifier: Apache-2.0
// The trust store: anchors and CRLs, chains built and verified by X509_STORE_CTX (RFC 5280
// §6 path validation, §6.3 CRL checks) at a given time.
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <string>

#include "crypto/pki_internal.h"

namespace ipsec::crypto {

struct TrustStore::Impl {
  std::vector<Certificate> anchors;
  std::vector<ossl::X509CrlPtr> crls;
};

namespace {

// A stack that borrows its certificates (the untrusted ones passed to verify).
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;
// The chain the context built; owns the references X509_STORE_CTX_get1_chain took.
struct ChainFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509ChainPtr = std::unique_ptr<STACK_OF(X509), ChainFree>;

Result<ossl::X509CrlPtr> parse_crl(ByteView data) {
  ossl::X509CrlPtr crl;
  if (ossl::looks_like_der(data)) {
    const unsigned char* p = data.data();
    crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(data.size())));
  } else {
    ossl::BioPtr bio = ossl::mem_bio(data);
    if (bio) crl.reset(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!crl) return ossl::fail_openssl("CRL: not a PEM or DER certificate revocation list");
  return crl;
}

// With CRLs held, every certificate of the chain is checked against its issuer's CRL
// (X509_V_FLAG_CRL_CHECK_ALL). A CA certificate whose issuer published no CRL here passes;
// the end entity's issuer must have one (the leaf's revocation status is never unknown).
int verify_callback(int ok, X509_STORE_CTX* ctx) {
  if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL &&
      X509_STORE_CTX_get_error_depth(ctx) > 0) {
    return 1;
  }
  return ok;
}

Result<ossl::X509StorePtr> make_store(const TrustStore::Impl& impl) {
  ossl::X509StorePtr store(X509_STORE_new());
  if (!store) return ossl::fail_openssl("trust store: out of memory");
  for (const auto& anchor : impl.anchors) {
    if (X509_STORE_add_cert(store.get(), pki::x509_of(anchor)) != 1) {
      return ossl::fail_openssl("trust store: cannot add anchor " + anchor.subject_text());
    }
  }
  for (const auto& crl : impl.crls) {
    if (X509_STORE_add_crl(store.get(), crl.get()) != 1) {
      return ossl::fail_openssl("trust store: cannot add a CRL");
    }
  }
  return store;
}

Result<void> configure(X509_STORE_CTX* ctx, bool crls, std::time_t at) {
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  // PARTIAL_CHAIN: an anchor that is itself an intermediate CA ends the chain.
  unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;
  if (crls) flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  if (X509_VERIFY_PARAM_set_flags(param, flags) != 1 ||
      X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) != 1) {
    return ossl::fail_openssl("certificate verification: cannot set the parameters");
  }
  X509_VERIFY_PARAM_set_time(param, at);
  X509_STORE_CTX_set_verify_cb(ctx, verify_callback);
  return ok();
}

std::string subject_of(const X509* cert) {
  return dn_to_text(pki::to_der(X509_get_subject_name(cert), i2d_X509_NAME));
}

// RFC 5280 §5.3: the entry of `cert` in the CRL of its issuer held here, for the date and
// reason of its revocation: "certificate C=DE, O=Example, CN=gw-b revoked on 2026-11-02
// (keyCompromise), by CRL of C=DE, O=Example, CN=Example CA"; "" when none lists it.
std::string crl_revocation(const TrustStore::Impl& impl, X509* cert) {
  for (const auto& crl : impl.crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_issuer_name(cert)) != 0) continue;
    X509_REVOKED* entry = nullptr;
    if (X509_CRL_get0_by_cert(crl.get(), &entry, cert) != 1 || entry == nullptr) continue;
    long reason = -1;
    if (auto* r = static_cast<ASN1_ENUMERATED*>(
            X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr))) {
      reason = ASN1_ENUMERATED_get(r);
      ASN1_ENUMERATED_free(r);
    }
    return revoked_text(
        subject_of(cert), pki::time_of(X509_REVOKED_get0_revocationDate(entry)), reason,
        "CRL of " + dn_to_text(pki::to_der(X509_CRL_get_issuer(crl.get()), i2d_X509_NAME)));
  }
  return {};
}

// What an operator needs to act on: revocation with date, reason and source; expiry with
// the date; a CRL out of date; else OpenSSL's verify error and the subject it concerns:
// "unable to get local issuer certificate (C=DE, O=Example, CN=gw-b, depth 0)".
Error verify_error(const TrustStore::Impl& impl, X509_STORE_CTX* ctx, X509* leaf) {
  const int err = X509_STORE_CTX_get_error(ctx);
  const int depth = X509_STORE_CTX_get_error_depth(ctx);
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  if (!cert && chain && depth >= 0 && depth < sk_X509_num(chain))
    cert = sk_X509_value(chain, depth);
  if (!cert) cert = leaf;
  const std::string subject = subject_of(cert);
  // The CRL being checked is gone from the context by now: the one of the cert's issuer.
  const X509_CRL* crl = X509_STORE_CTX_get0_current_crl(ctx);
  for (size_t i = 0; !crl && i < impl.crls.size(); ++i)
    if (X509_NAME_cmp(X509_CRL_get_issuer(impl.crls[i].get()), X509_get_issuer_name(cert)) == 0)
      crl = impl.crls[i].get();
  const std::string crl_issuer =
      crl ? dn_to_text(pki::to_der(X509_CRL_get_issuer(crl), i2d_X509_NAME)) : std::string();
  std::string text;
  if (err == X509_V_ERR_CERT_REVOKED) {
    text = crl_revocation(impl, cert);
  } else if (err == X509_V_ERR_CERT_HAS_EXPIRED) {
    text = "certificate " + subject + " expired on " +
           pki::utc_date(pki::time_of(X509_get0_notAfter(cert)));
  } else if (err == X509_V_ERR_CERT_NOT_YET_VALID) {
    text = "certificate " + subject + " is not valid before " +
           pki::utc_date(pki::time_of(X509_get0_notBefore(cert)));
  } else if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
             err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) {
    text = "no trusted CA for issuer " +
           dn_to_text(pki::to_der(X509_get_issuer_name(cert), i2d_X509_NAME)) + " (certificate " +
           subject + ": " + X509_verify_cert_error_string(err) + ")";
  } else if (err == X509_V_ERR_CRL_HAS_EXPIRED && crl) {
    text = "CRL of " + crl_issuer + " expired on " +
           pki::utc_date(pki::time_of(X509_CRL_get0_nextUpdate(crl))) + " (checking " + subject +
           ")";
  } else if (err == X509_V_ERR_CRL_NOT_YET_VALID && crl) {
    text = "CRL of " + crl_issuer + " is not valid before " +
           pki::utc_date(pki::time_of(X509_CRL_get0_lastUpdate(crl))) + " (checking " + subject +
           ")";
  }
  if (text.empty())
    text = std::string(X509_verify_cert_error_string(err)) + " (" + subject + ", depth " +
           std::to_string(depth) + ")";
  ERR_clear_error();
  return Error{std::move(text), 0};
}

Result<std::vector<Certificate>> chain_of(X509_STORE_CTX* ctx) {
  X509ChainPtr chain(X509_STORE_CTX_get1_chain(ctx));
  if (!chain) return ossl::fail_openssl("certificate verification: no chain");
  std::vector<Certificate> out;
  for (int i = 0; i < sk_X509_num(chain.get()); ++i) {
    auto cert = pki::certificate_of(sk_X509_value(chain.get(), i));
    if (!cert) return fail(cert.error());
    out.push_back(std::move(*cert));
  }
  return out;
}

}  // namespace

TrustStore::TrustStore() : impl_(std::make_shared<Impl>()) {}

void TrustStore::add_anchor(const Certificate& ca) { impl_->anchors.push_back(ca); }

// A CRL from an anchor is checked now; one from another CA is checked by X509_STORE when a
// chain through that CA is verified (X509_V_ERR_CRL_SIGNATURE_FAILURE).
Result<void> TrustStore::add_crl(ByteView pem_or_der) {
  auto crl = parse_crl(pem_or_der);
  if (!crl) return fail(crl.error());
  const X509_NAME* issuer = X509_CRL_get_issuer(crl->get());
  const std::string issuer_text = dn_to_text(pki::to_der(issuer, i2d_X509_NAME));
  for (const auto& anchor : impl_->anchors) {
    X509* ca = pki::x509_of(anchor);
    if (X509_NAME_cmp(X509_get_subject_name(ca), issuer) != 0) continue;
    if (X509_CRL_verify(crl->get(), X509_get0_pubkey(ca)) == 1) {
      impl_->crls.push_back(std::move(*crl));
      return ok();
    }
    ERR_clear_error();
  }
  for (const auto& anchor : impl_->anchors) {
    if (X509_NAME_cmp(X509_get_subject_name(pki::x509_of(anchor)), issuer) == 0) {
      return fail("CRL of " + issuer_text + ": not signed by that trust anchor");
    }
  }
  impl_->crls.push_back(std::move(*crl));
  return ok();
}

Result<std::vector<Certificate>> TrustStore::verify(const Certificate& leaf,
                                                    std::span<const Certificate> intermediates,
                                                    std::time_t at) const {
  auto store = make_store(*impl_);
  if (!store) return fail(store.error());
  X509StackPtr untrusted(sk_X509_new_null());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!untrusted || !ctx) return ossl::fail_openssl("certificate verification: out of memory");
  for (const auto& c : intermediates) {
    if (sk_X509_push(untrusted.get(), pki::x509_of(c)) <= 0) {
      return ossl::fail_openssl("certificate verification: out of memory");
    }
  }
  X509* x509 = pki::x509_of(leaf);
  if (X509_STORE_CTX_init(ctx.get(), store->get(), x509, untrusted.get()) != 1) {
    return ossl::fail_openssl("certificate verification: cannot start");
  }
  if (auto r = configure(ctx.get(), !impl_->crls.empty(), at); !r) return fail(r.error());
  if (X509_verify_cert(ctx.get()) != 1) return fail(verify_error(*impl_, ctx.get(), x509));
  ERR_clear_error();  // what the tolerated missing CRLs may have queued
  return chain_of(ctx.get());
}

std::vector<Bytes> TrustStore::anchor_key_hashes() const {
  std::vector<Bytes> out;
  for (const auto& anchor : impl_->anchors) out.push_back(anchor.public_key().spki_sha1());
  return out;
}

const std::vector<Certificate>& TrustStore::anchors() const { return impl_->anchors; }

bool TrustStore::has_crl_of(const Certificate& issuer) const {
  const X509_NAME* name = X509_get_subject_name(pki::x509_of(issuer));
  return std::any_of(impl_->crls.begin(), impl_->crls.end(), [&](const ossl::X509CrlPtr& crl) {
    return X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), name) == 0;
  });
}

Result<CrlInfo> describe_crl(ByteView pem_or_der) {
  auto crl = parse_crl(pem_or_der);
  if (!crl) return fail(crl.error());
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl->get());
  return CrlInfo{dn_to_text(pki::to_der(X509_CRL_get_issuer(crl->get()), i2d_X509_NAME)),
                 pki::time_of(X509_CRL_get0_lastUpdate(crl->get())),
                 pki::time_of(X509_CRL_get0_nextUpdate(crl->get())),
                 revoked ? static_cast<size_t>(sk_X509_REVOKED_num(revoked)) : 0};
}

std::string revoked_text(std::string_view subject, std::time_t when, long reason,
                         std::string_view by) {
  std::string text = "certificate " + std::string(subject) + " revoked on " + pki::utc_date(when);
  if (reason >= 0) text += " (" + pki::reason_name(reason) + ")";
  return text + ", by " + std::string(by);
}

}  // namespace ipsec::crypto
