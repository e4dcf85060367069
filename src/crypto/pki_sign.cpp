// SPDX-License-Identifier: Apache-2.0
// Signing and verifying with EVP_DigestSign/EVP_DigestVerify: RSA PKCS#1 v1.5 and PSS, ECDSA
// as DER or as r|s (RFC 4754 §7), Ed25519/Ed448 over the data itself (RFC 8420).
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <string>

#include "crypto/pki_internal.h"

namespace ipsec::crypto {

namespace {

bool key_fits(KeyType type, SignatureScheme s) {
  switch (pki::family(s)) {
    case pki::Family::RsaPkcs1:
    case pki::Family::RsaPss:
      return type == KeyType::Rsa;
    case pki::Family::Ecdsa:
      // RFC 7427 lets any hash go with any curve; methods 9/10/11 pin them (scheme_for_method).
      return type == KeyType::EcP256 || type == KeyType::EcP384 || type == KeyType::EcP521;
    case pki::Family::EdDsa:
      return (type == KeyType::Ed25519 && s == SignatureScheme::Ed25519) ||
             (type == KeyType::Ed448 && s == SignatureScheme::Ed448);
  }
  return false;
}

}  // namespace

bool scheme_fits(KeyType type, SignatureScheme s) { return key_fits(type, s); }

namespace {

Result<void> check_key(KeyType type, SignatureScheme s) {
  if (key_fits(type, s)) return ok();
  return fail(std::string(scheme_name(s)) + ": not a scheme for an " +
              std::string(key_type_name(type)) + " key");
}

// A digest context ready to sign or verify with `s` (PSS: MGF1 with the same hash and a salt
// as long as the hash, RFC 8247 §3.2; verification insists on that salt length).
Result<ossl::MdCtxPtr> start(EVP_PKEY* key, SignatureScheme s, bool sign) {
  const std::string what(scheme_name(s));
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  const char* md = pki::digest_name(s);
  if (!ctx ||
      (sign ? EVP_DigestSignInit_ex(ctx.get(), &pctx, md, nullptr, nullptr, key, nullptr)
            : EVP_DigestVerifyInit_ex(ctx.get(), &pctx, md, nullptr, nullptr, key, nullptr)) != 1) {
    return ossl::fail_openssl(what + ": cannot start");
  }
  if (pki::family(s) == pki::Family::RsaPss &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, nullptr) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    return ossl::fail_openssl(what + ": cannot set the PSS parameters");
  }
  if (pki::family(s) == pki::Family::RsaPkcs1 &&
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return ossl::fail_openssl(what + ": cannot set PKCS#1 v1.5 padding");
  }
  return ctx;
}

// The size of r and of s in an r|s signature: the curve order's byte length (66 for P-521).
size_t ecdsa_half(const EVP_PKEY* key) {
  return (static_cast<size_t>(EVP_PKEY_get_bits(key)) + 7) / 8;
}

// RFC 4754 §7: r and s as big-endian integers, each padded to the curve size.
Result<Bytes> der_to_raw(ByteView der, size_t half) {
  const unsigned char* p = der.data();
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return ossl::fail_openssl("ECDSA: cannot decode the signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes out(2 * half);
  if (BN_bn2binpad(r, out.data(), static_cast<int>(half)) < 0 ||
      BN_bn2binpad(s, out.data() + half, static_cast<int>(half)) < 0) {
    return ossl::fail_openssl("ECDSA: r or s larger than the curve");
  }
  return out;
}

Result<Bytes> raw_to_der(ByteView raw, size_t half, const std::string& what) {
  if (raw.size() != 2 * half) {
    return fail(what + ": an r|s signature of " + std::to_string(raw.size()) + " bytes, expected " +
                std::to_string(2 * half) + " (RFC 4754 §7)");
  }
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  ossl::BnPtr r(BN_bin2bn(raw.data(), static_cast<int>(half), nullptr));
  ossl::BnPtr s(BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return ossl::fail_openssl(what + ": cannot build the signature");
  }
  (void)r.release();  // now owned by sig
  (void)s.release();
  Bytes der = pki::to_der(sig.get(), i2d_ECDSA_SIG);
  if (der.empty()) return ossl::fail_openssl(what + ": cannot encode the signature");
  return der;
}

bool is_raw_ecdsa(SignatureScheme s, bool raw) {
  return raw && pki::family(s) == pki::Family::Ecdsa;
}

}  // namespace

Result<Bytes> PrivateKey::sign(SignatureScheme s, ByteView data, bool raw) const {
  if (auto r = check_key(impl_->type, s); !r) return fail(std::move(r.error()));
  const std::string what(scheme_name(s));
  auto ctx = start(impl_->key.get(), s, true);
  if (!ctx) return fail(ctx.error());
  size_t len = 0;
  const unsigned char* in = ossl::data_or_empty(data);
  if (EVP_DigestSign(ctx->get(), nullptr, &len, in, data.size()) != 1) {
    return ossl::fail_openssl(what + ": signing failed");
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx->get(), sig.data(), &len, in, data.size()) != 1) {
    return ossl::fail_openssl(what + ": signing failed");
  }
  sig.resize(len);
  if (is_raw_ecdsa(s, raw)) return der_to_raw(sig, ecdsa_half(impl_->key.get()));
  return sig;
}

Result<void> PublicKey::verify(SignatureScheme s, ByteView data, ByteView signature,
                               bool raw) const {
  if (auto r = check_key(impl_->type, s); !r) return r;
  const std::string what(scheme_name(s));
  Bytes der;
  if (is_raw_ecdsa(s, raw)) {
    auto converted = raw_to_der(signature, ecdsa_half(impl_->key.get()), what);
    if (!converted) return fail(converted.error());
    der = std::move(*converted);
    signature = der;
  }
  auto ctx = start(impl_->key.get(), s, false);
  if (!ctx) return fail(ctx.error());
  int rc = EVP_DigestVerify(ctx->get(), ossl::data_or_empty(signature), signature.size(),
                            ossl::data_or_empty(data), data.size());
  ERR_clear_error();
  if (rc != 1) return fail(what + ": the signature does not verify");
  return ok();
}

}  // namespace ipsec::crypto
