// SPDX-License-Identifier: Apache-2.0
// Private to the PKI backend (pki_*.cpp): the OpenSSL objects behind the pki.h handles, the
// owners of X.509 objects, and the per-scheme facts the signing code needs.
#pragma once

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "crypto/openssl_util.h"
#include "crypto/pki.h"

namespace ipsec::crypto {

namespace ossl {
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

// DER (a SEQUENCE) rather than PEM text: PEM may start with any text, even a '0' (0x30).
inline bool looks_like_der(ByteView data) {
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  return !data.empty() && data[0] == 0x30 && text.find("-----BEGIN ") == std::string_view::npos;
}

// A read-only memory BIO over `data` (no copy).
inline BioPtr mem_bio(ByteView data) {
  return BioPtr(BIO_new_mem_buf(data_or_empty(data), static_cast<int>(data.size())));
}
}  // namespace ossl

struct PublicKey::Impl {
  ossl::PkeyPtr key;  // public part only
  KeyType type;
};

struct PrivateKey::Impl {
  ossl::PkeyPtr key;
  KeyType type;
  PublicKey pub;
};

struct Certificate::Impl {
  ossl::X509Ptr x509;
  PublicKey pub;
};

namespace pki {

enum class Family : uint8_t { RsaPkcs1, RsaPss, Ecdsa, EdDsa };
Family family(SignatureScheme s);
// The OpenSSL digest name ("SHA2-256"), nullptr for EdDSA (it signs the data itself).
const char* digest_name(SignatureScheme s);

// The KeyType of an OpenSSL key; an error names an unsupported type or curve.
Result<KeyType> key_type_of(const EVP_PKEY* key);
// A PublicKey of the public half of `key` (a private key stays out of it).
Result<PublicKey> public_key_of(const EVP_PKEY* key);
// A Certificate holding `x509` (takes a reference); refused when its key type is unsupported.
Result<Certificate> certificate_of(X509* x509);
// The X509 behind a Certificate (still owned by it).
X509* x509_of(const Certificate& c);

// An ASN1_TIME as seconds since the epoch (0 when absent or malformed), and a time as the
// UTC date operators read in messages: "2026-11-02".
std::time_t time_of(const ASN1_TIME* t);
std::string utc_date(std::time_t t);
// RFC 5280 §5.3.1 CRLReason as named there ("keyCompromise"); "" for -1 (none given).
std::string reason_name(long reason);

// i2d of any OpenSSL object into Bytes; empty on failure.
template <class T, class F>
Bytes to_der(const T* obj, F i2d) {
  int len = i2d(obj, nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d(obj, &p) != len) return {};
  return out;
}

}  // namespace pki

}  // namespace ipsec::crypto
