// SPDX-License-Identifier: Apache-2.0
// Keys, certificates and CRLs for the PKI tests, made with OpenSSL's own API (independent of
// the code under test): every private key encoding, certificates signed with a given scheme,
// CA chains and CRLs at fixed times.
#pragma once

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "crypto/pki.h"

namespace pki_test {

using ipsec::Bytes;
using ipsec::crypto::KeyType;

template <auto F>
struct Free {
  template <class T>
  void operator()(T* p) const {
    F(p);
  }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO_free>>;

constexpr KeyType kAllKeyTypes[] = {KeyType::Rsa,    KeyType::EcP256,  KeyType::EcP384,
                                    KeyType::EcP521, KeyType::Ed25519, KeyType::Ed448};
constexpr std::time_t kDay = 24 * 3600;
constexpr std::time_t kT0 = 1700000000;  // 2023-11-14: certificates are made around it
constexpr const char* kPassphrase = "correct horse battery staple";

inline Pkey generate(KeyType t) {
  switch (t) {
    case KeyType::Rsa:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    case KeyType::EcP256:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    case KeyType::EcP384:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
    case KeyType::EcP521:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"));
    case KeyType::Ed25519:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    case KeyType::Ed448:
      return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  }
  return nullptr;
}

// One key per type for the whole test binary (RSA key generation is slow).
inline EVP_PKEY* key(KeyType t) {
  static std::map<KeyType, Pkey> keys;
  auto& k = keys[t];
  if (!k) k = generate(t);
  REQUIRE(k != nullptr);
  return k.get();
}

inline Bytes bio_bytes(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return Bytes(data, data + len);
}

inline Bytes spki_of(const EVP_PKEY* k) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(k, &der);
  REQUIRE(len > 0);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

enum class Form {
  Pkcs8Pem,
  Pkcs8Der,
  TraditionalPem,  // "BEGIN RSA PRIVATE KEY" / "BEGIN EC PRIVATE KEY"
  TraditionalDer,
  EncryptedPkcs8Pem,  // "BEGIN ENCRYPTED PRIVATE KEY"
  EncryptedPkcs8Der,
  EncryptedLegacyPem,  // traditional PEM with Proc-Type and DEK-Info
};

inline Bytes encode(EVP_PKEY* k, Form form) {
  Bio bio(BIO_new(BIO_s_mem()));
  const EVP_CIPHER* aes = EVP_aes_256_cbc();
  const auto* pass = reinterpret_cast<const unsigned char*>(kPassphrase);
  const int len = static_cast<int>(std::strlen(kPassphrase));
  int ok = 0;
  switch (form) {
    case Form::Pkcs8Pem:
      ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case Form::Pkcs8Der:
      ok = i2d_PKCS8PrivateKey_bio(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case Form::TraditionalPem:
      ok =
          PEM_write_bio_PrivateKey_traditional(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case Form::TraditionalDer:
      ok = i2d_PrivateKey_bio(bio.get(), k);
      break;
    case Form::EncryptedPkcs8Pem:
      ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), k, aes, kPassphrase, len, nullptr, nullptr);
      break;
    case Form::EncryptedPkcs8Der:
      ok = i2d_PKCS8PrivateKey_bio(bio.get(), k, aes, kPassphrase, len, nullptr, nullptr);
      break;
    case Form::EncryptedLegacyPem:
      ok = PEM_write_bio_PrivateKey_traditional(bio.get(), k, aes, pass, len, nullptr, nullptr);
      break;
  }
  REQUIRE(ok == 1);
  return bio_bytes(bio.get());
}

// How a test certificate is signed: a digest (nullptr for EdDSA) and PKCS#1 or PSS.
struct Signing {
  const char* md = "SHA256";
  bool pss = false;
};

struct CertSpec {
  std::vector<std::pair<std::string, std::string>> subject;
  EVP_PKEY* key = nullptr;  // the subject's key
  X509* issuer = nullptr;   // nullptr: self-signed with `key`
  EVP_PKEY* issuer_key = nullptr;
  bool ca = false;
  std::string san;  // "DNS:a.example,IP:192.0.2.1"
  long serial = 1;
  std::time_t not_before = kT0 - kDay;
  std::time_t not_after = kT0 + 3650 * kDay;
  Signing signing;
  std::string ocsp_uri;  // AIA: "OCSP;URI:<ocsp_uri>"
  std::string eku;       // extendedKeyUsage: "OCSPSigning"
};

inline void add_ext(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer ? issuer : x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
  REQUIRE(ext != nullptr);
  REQUIRE(X509_add_ext(x, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

inline void sign_with(X509* x, EVP_PKEY* k, Signing s) {
  std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestSignInit_ex(ctx.get(), &pctx, s.md, nullptr, nullptr, k, nullptr) == 1);
  if (s.pss) {
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, s.md, nullptr) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
  }
  REQUIRE(X509_sign_ctx(x, ctx.get()) > 0);
}

inline X509Ptr make_cert(const CertSpec& spec) {
  X509Ptr x(X509_new());
  REQUIRE(x != nullptr);
  REQUIRE(X509_set_version(x.get(), X509_VERSION_3) == 1);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), spec.serial);
  X509_NAME* name = X509_get_subject_name(x.get());
  for (const auto& [field, value] : spec.subject) {
    REQUIRE(X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                       -1, 0) == 1);
  }
  X509_set_issuer_name(x.get(), spec.issuer ? X509_get_subject_name(spec.issuer) : name);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), spec.not_before);
  ASN1_TIME_set(X509_getm_notAfter(x.get()), spec.not_after);
  REQUIRE(X509_set_pubkey(x.get(), spec.key) == 1);
  add_ext(x.get(), spec.issuer, NID_subject_key_identifier, "hash");
  if (spec.issuer) add_ext(x.get(), spec.issuer, NID_authority_key_identifier, "keyid");
  if (spec.ca) {
    add_ext(x.get(), spec.issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), spec.issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), spec.issuer, NID_key_usage, "critical,digitalSignature");
  }
  if (!spec.san.empty()) add_ext(x.get(), spec.issuer, NID_subject_alt_name, spec.san);
  if (!spec.ocsp_uri.empty())
    add_ext(x.get(), spec.issuer, NID_info_access, "OCSP;URI:" + spec.ocsp_uri);
  if (!spec.eku.empty()) add_ext(x.get(), spec.issuer, NID_ext_key_usage, spec.eku);
  sign_with(x.get(), spec.issuer ? spec.issuer_key : spec.key, spec.signing);
  return x;
}

using Names = std::vector<std::pair<std::string, std::string>>;

inline X509Ptr self_signed(Names subject, EVP_PKEY* k, Signing signing = {}) {
  CertSpec spec;
  spec.subject = std::move(subject);
  spec.key = k;
  spec.signing = signing;
  return make_cert(spec);
}

inline X509Ptr ca_cert(Names subject, EVP_PKEY* k, X509* issuer, EVP_PKEY* issuer_key, long serial,
                       std::time_t not_before = kT0 - kDay,
                       std::time_t not_after = kT0 + 3650 * kDay) {
  CertSpec spec;
  spec.subject = std::move(subject);
  spec.key = k;
  spec.issuer = issuer;
  spec.issuer_key = issuer_key;
  spec.ca = true;
  spec.serial = serial;
  spec.not_before = not_before;
  spec.not_after = not_after;
  return make_cert(spec);
}

inline X509Ptr leaf_cert(Names subject, EVP_PKEY* k, X509* issuer, EVP_PKEY* issuer_key,
                         std::string san, long serial, std::time_t not_before,
                         std::time_t not_after) {
  CertSpec spec;
  spec.subject = std::move(subject);
  spec.key = k;
  spec.issuer = issuer;
  spec.issuer_key = issuer_key;
  spec.san = std::move(san);
  spec.serial = serial;
  spec.not_before = not_before;
  spec.not_after = not_after;
  return make_cert(spec);
}

inline Bytes cert_der(X509* x) {
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  REQUIRE(len > 0);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

inline std::string cert_pem(X509* x) {
  Bio bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), x) == 1);
  Bytes b = bio_bytes(bio.get());
  return std::string(b.begin(), b.end());
}

inline ipsec::crypto::Certificate certificate(X509* x) {
  auto certs = ipsec::crypto::Certificate::parse(cert_der(x));
  REQUIRE(certs);
  REQUIRE(certs->size() == 1);
  return certs->front();
}

// A CRL of `issuer` listing `revoked` serials (revoked at `last`, with CRLReason `reason`
// unless -1), valid from `last` to `next`.
inline Bytes make_crl(X509* issuer, EVP_PKEY* issuer_key, const std::vector<long>& revoked,
                      bool pem = true, std::time_t last = kT0, std::time_t next = kT0 + 1825 * kDay,
                      long reason = -1) {
  std::unique_ptr<X509_CRL, Free<X509_CRL_free>> crl(X509_CRL_new());
  std::unique_ptr<ASN1_TIME, Free<ASN1_TIME_free>> t_last(ASN1_TIME_set(nullptr, last));
  std::unique_ptr<ASN1_TIME, Free<ASN1_TIME_free>> t_next(ASN1_TIME_set(nullptr, next));
  REQUIRE(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) == 1);
  REQUIRE(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) == 1);
  REQUIRE(X509_CRL_set1_lastUpdate(crl.get(), t_last.get()) == 1);
  REQUIRE(X509_CRL_set1_nextUpdate(crl.get(), t_next.get()) == 1);
  for (long serial : revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    std::unique_ptr<ASN1_INTEGER, Free<ASN1_INTEGER_free>> s(ASN1_INTEGER_new());
    ASN1_INTEGER_set(s.get(), serial);
    REQUIRE(X509_REVOKED_set_serialNumber(r, s.get()) == 1);
    REQUIRE(X509_REVOKED_set_revocationDate(r, t_last.get()) == 1);
    if (reason >= 0) {
      std::unique_ptr<ASN1_ENUMERATED, Free<ASN1_ENUMERATED_free>> e(ASN1_ENUMERATED_new());
      REQUIRE(ASN1_ENUMERATED_set(e.get(), reason) == 1);
      REQUIRE(X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e.get(), 0, 0) == 1);
    }
    REQUIRE(X509_CRL_add0_revoked(crl.get(), r) == 1);
  }
  X509_CRL_sort(crl.get());
  REQUIRE(X509_CRL_sign(crl.get(), issuer_key, EVP_sha256()) > 0);
  Bio bio(BIO_new(BIO_s_mem()));
  REQUIRE((pem ? PEM_write_bio_X509_CRL(bio.get(), crl.get())
               : i2d_X509_CRL_bio(bio.get(), crl.get())) == 1);
  return bio_bytes(bio.get());
}

}  // namespace pki_test
