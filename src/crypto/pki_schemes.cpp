// SPDX-License-Identifier: Apache-2.0
// Signature schemes: names, RFC 7427 hash numbers and AlgorithmIdentifiers, and which schemes
// a key may use (RFC 7427, RFC 8247 §3.2, RFC 8420).
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>

#include "crypto/pki_internal.h"

namespace ipsec::crypto {

namespace {

// RFC 7427 Appendix A.1: sha*WithRSAEncryption with NULL parameters.
constexpr uint8_t kRsaSha1[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00};
constexpr uint8_t kRsaSha256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
constexpr uint8_t kRsaSha384[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
constexpr uint8_t kRsaSha512[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                  0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00};

// RFC 7427 Appendix A.4.3 (and RFC 4055 §3.1): id-RSASSA-PSS with RSASSA-PSS-params
// { hashAlgorithm [0] (hash, NULL), maskGenAlgorithm [1] id-mgf1 (hash, NULL),
//   saltLength [2] hash length }; trailerField is the DEFAULT 1 and so omitted in DER.
// `h` is the last arc of the hash OID (2.16.840.1.101.3.4.2.h), `salt` its length.
constexpr std::array<uint8_t, 67> pss(uint8_t h, uint8_t salt) {
  return {0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,  // PSS
          0x30, 0x34,                                                                    //
          0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,  // hash
          0x02, h,    0x05, 0x00,                                                        //
          0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,  // mgf1
          0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,  //
          0x02, h,    0x05, 0x00,                                                        //
          0xa2, 0x03, 0x02, 0x01, salt};                                                 // salt
}
constexpr auto kPssSha256 = pss(0x01, 32);
constexpr auto kPssSha384 = pss(0x02, 48);
constexpr auto kPssSha512 = pss(0x03, 64);

// RFC 7427 Appendix A.3 (RFC 5758 §3.2): ecdsa-with-SHA* without parameters.
constexpr uint8_t kEcdsaSha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr uint8_t kEcdsaSha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr uint8_t kEcdsaSha512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};

// RFC 8420 §2 (RFC 8410 §3): id-Ed25519 / id-Ed448 without parameters.
constexpr uint8_t kEd25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
constexpr uint8_t kEd448[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71};

// RFC 7427 §4 / IANA "IKEv2 Hash Algorithms".
constexpr uint16_t kHashSha1 = 1, kHashSha256 = 2, kHashSha384 = 3, kHashSha512 = 4,
                   kHashIdentity = 5;

struct SchemeRow {
  SignatureScheme scheme;
  std::string_view name;
  pki::Family family;
  uint16_t hash;       // RFC 7427 hash number
  const char* digest;  // OpenSSL digest name, nullptr for EdDSA
  int sig_nid;         // the AlgorithmIdentifier's OID
  int hash_nid;        // NID of the hash (PSS parameters)
  size_t hash_len;     // PSS salt length
  ByteView alg_id;     // DER AlgorithmIdentifier
};

using pki::Family;
constexpr SchemeRow kSchemes[] = {
    {SignatureScheme::RsaPkcs1Sha1, "rsa-pkcs1-sha1", Family::RsaPkcs1, kHashSha1, "SHA1",
     NID_sha1WithRSAEncryption, NID_sha1, 20, kRsaSha1},
    {SignatureScheme::RsaPkcs1Sha256, "rsa-pkcs1-sha256", Family::RsaPkcs1, kHashSha256, "SHA2-256",
     NID_sha256WithRSAEncryption, NID_sha256, 32, kRsaSha256},
    {SignatureScheme::RsaPkcs1Sha384, "rsa-pkcs1-sha384", Family::RsaPkcs1, kHashSha384, "SHA2-384",
     NID_sha384WithRSAEncryption, NID_sha384, 48, kRsaSha384},
    {SignatureScheme::RsaPkcs1Sha512, "rsa-pkcs1-sha512", Family::RsaPkcs1, kHashSha512, "SHA2-512",
     NID_sha512WithRSAEncryption, NID_sha512, 64, kRsaSha512},
    {SignatureScheme::RsaPssSha256, "rsa-pss-sha256", Family::RsaPss, kHashSha256, "SHA2-256",
     NID_rsassaPss, NID_sha256, 32, kPssSha256},
    {SignatureScheme::RsaPssSha384, "rsa-pss-sha384", Family::RsaPss, kHashSha384, "SHA2-384",
     NID_rsassaPss, NID_sha384, 48, kPssSha384},
    {SignatureScheme::RsaPssSha512, "rsa-pss-sha512", Family::RsaPss, kHashSha512, "SHA2-512",
     NID_rsassaPss, NID_sha512, 64, kPssSha512},
    {SignatureScheme::EcdsaSha256, "ecdsa-sha256", Family::Ecdsa, kHashSha256, "SHA2-256",
     NID_ecdsa_with_SHA256, NID_sha256, 32, kEcdsaSha256},
    {SignatureScheme::EcdsaSha384, "ecdsa-sha384", Family::Ecdsa, kHashSha384, "SHA2-384",
     NID_ecdsa_with_SHA384, NID_sha384, 48, kEcdsaSha384},
    {SignatureScheme::EcdsaSha512, "ecdsa-sha512", Family::Ecdsa, kHashSha512, "SHA2-512",
     NID_ecdsa_with_SHA512, NID_sha512, 64, kEcdsaSha512},
    {SignatureScheme::Ed25519, "ed25519", Family::EdDsa, kHashIdentity, nullptr, NID_ED25519,
     NID_undef, 0, kEd25519},
    {SignatureScheme::Ed448, "ed448", Family::EdDsa, kHashIdentity, nullptr, NID_ED448, NID_undef,
     0, kEd448},
};

const SchemeRow& row(SignatureScheme s) {
  for (const auto& r : kSchemes)
    if (r.scheme == s) return r;
  return kSchemes[0];  // unreachable: every enumerator has a row
}

bool equal(ByteView a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

// A hash AlgorithmIdentifier inside RSASSA-PSS-params: the hash NID (parameters absent or
// NULL, RFC 4055 §2.1).
int hash_nid_of(const X509_ALGOR* alg) {
  if (!alg) return NID_sha1;  // the DEFAULT of RSASSA-PSS-params
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  X509_ALGOR_get0(&oid, &ptype, nullptr, alg);
  if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL) return NID_undef;
  return OBJ_obj2nid(oid);
}

// maskGenAlgorithm: id-mgf1 with a hash AlgorithmIdentifier as parameter.
int mgf1_hash_nid(const X509_ALGOR* mgf) {
  if (!mgf) return NID_sha1;  // DEFAULT mgf1SHA1
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, mgf);
  if (OBJ_obj2nid(oid) != NID_mgf1 || ptype != V_ASN1_SEQUENCE) return NID_undef;
  const auto* seq = static_cast<const ASN1_STRING*>(pval);
  const unsigned char* p = ASN1_STRING_get0_data(seq);
  ossl::X509AlgorPtr hash(d2i_X509_ALGOR(nullptr, &p, ASN1_STRING_length(seq)));
  return hash ? hash_nid_of(hash.get()) : NID_undef;
}

// RFC 7427 §3 with RFC 8247 §3.2's parameters: MGF1 with the same hash, salt = hash length,
// trailerField 1. Decoded with OpenSSL's RSASSA-PSS-params type, so that equivalent
// encodings (hash parameters absent instead of NULL, explicit trailerField) are accepted.
std::optional<SignatureScheme> pss_scheme(const X509_ALGOR* alg) {
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(nullptr, &ptype, &pval, alg);
  if (ptype != V_ASN1_SEQUENCE) return std::nullopt;
  const auto* seq = static_cast<const ASN1_STRING*>(pval);
  const unsigned char* p = ASN1_STRING_get0_data(seq);
  std::unique_ptr<RSA_PSS_PARAMS, ossl::Deleter<RSA_PSS_PARAMS_free>> params(
      d2i_RSA_PSS_PARAMS(nullptr, &p, ASN1_STRING_length(seq)));
  if (!params) return std::nullopt;
  const int hash = hash_nid_of(params->hashAlgorithm);
  for (const auto& r : kSchemes) {
    if (r.family != Family::RsaPss || r.hash_nid != hash) continue;
    if (mgf1_hash_nid(params->maskGenAlgorithm) != hash) return std::nullopt;
    long salt = params->saltLength ? ASN1_INTEGER_get(params->saltLength) : 20;
    long trailer = params->trailerField ? ASN1_INTEGER_get(params->trailerField) : 1;
    if (salt != static_cast<long>(r.hash_len) || trailer != 1) return std::nullopt;
    return r.scheme;
  }
  return std::nullopt;
}

// Anything but the exact encodings of kSchemes: decoded, then judged by OID and parameters.
std::optional<SignatureScheme> decoded_scheme(ByteView der) {
  const unsigned char* p = der.data();
  ossl::X509AlgorPtr alg(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(der.size())));
  if (!alg || p != der.data() + der.size()) return std::nullopt;
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  X509_ALGOR_get0(&oid, &ptype, nullptr, alg.get());
  const int nid = OBJ_obj2nid(oid);
  if (nid == NID_rsassaPss) return pss_scheme(alg.get());
  for (const auto& r : kSchemes) {
    if (r.sig_nid != nid) continue;
    // PKCS#1 parameters: NULL (RFC 4055 §5), tolerated absent; ECDSA, EdDSA: absent only.
    if (ptype == V_ASN1_UNDEF || (ptype == V_ASN1_NULL && r.family == Family::RsaPkcs1))
      return r.scheme;
  }
  return std::nullopt;
}

}  // namespace

namespace pki {
Family family(SignatureScheme s) { return row(s).family; }
const char* digest_name(SignatureScheme s) { return row(s).digest; }
}  // namespace pki

std::string_view scheme_name(SignatureScheme s) { return row(s).name; }

std::optional<SignatureScheme> scheme_from_name(std::string_view name) {
  for (const auto& r : kSchemes)
    if (r.name == name) return r.scheme;
  return std::nullopt;
}

std::span<const SignatureScheme> all_schemes() {
  static constexpr auto kAll = [] {
    std::array<SignatureScheme, std::size(kSchemes)> out{};
    for (size_t i = 0; i < out.size(); ++i) out[i] = kSchemes[i].scheme;
    return out;
  }();
  return kAll;
}
uint16_t signature_hash(SignatureScheme s) { return row(s).hash; }

Bytes algorithm_identifier(SignatureScheme s) {
  ByteView id = row(s).alg_id;
  return Bytes(id.begin(), id.end());
}

std::optional<SignatureScheme> scheme_from_algorithm_identifier(ByteView der) {
  for (const auto& r : kSchemes)
    if (equal(der, r.alg_id)) return r.scheme;
  if (der.empty()) return std::nullopt;
  auto s = decoded_scheme(der);
  ERR_clear_error();
  return s;
}

std::vector<SignatureScheme> schemes_for(KeyType type, std::span<const uint16_t> peer_hashes,
                                         bool prefer_pss) {
  using S = SignatureScheme;
  std::vector<S> all;
  switch (type) {
    case KeyType::Rsa: {
      // RFC 8247 §3.2: SHA-1 is not offered for RFC 7427 signatures.
      std::vector<S> pss{S::RsaPssSha256, S::RsaPssSha384, S::RsaPssSha512};
      std::vector<S> pkcs1{S::RsaPkcs1Sha256, S::RsaPkcs1Sha384, S::RsaPkcs1Sha512};
      all = prefer_pss ? pss : pkcs1;
      const auto& rest = prefer_pss ? pkcs1 : pss;
      all.insert(all.end(), rest.begin(), rest.end());
      break;
    }
    // The hash that matches the curve's strength first (RFC 5656 §6.2.1), then the others.
    case KeyType::EcP256:
      all = {S::EcdsaSha256, S::EcdsaSha384, S::EcdsaSha512};
      break;
    case KeyType::EcP384:
      all = {S::EcdsaSha384, S::EcdsaSha512, S::EcdsaSha256};
      break;
    case KeyType::EcP521:
      all = {S::EcdsaSha512, S::EcdsaSha384, S::EcdsaSha256};
      break;
    case KeyType::Ed25519:
      all = {S::Ed25519};
      break;
    case KeyType::Ed448:
      all = {S::Ed448};
      break;
  }
  if (peer_hashes.empty()) return all;
  std::erase_if(all, [&](S s) {
    return std::find(peer_hashes.begin(), peer_hashes.end(), signature_hash(s)) ==
           peer_hashes.end();
  });
  return all;
}

std::optional<SignatureScheme> scheme_for_method(uint8_t auth_method, KeyType type) {
  // RFC 7296 §3.8 (1: RSA Digital Signature, PKCS#1 v1.5 with SHA-1), RFC 4754 §4 (9, 10, 11).
  if (auth_method == 1 && type == KeyType::Rsa) return SignatureScheme::RsaPkcs1Sha1;
  if (auth_method == 9 && type == KeyType::EcP256) return SignatureScheme::EcdsaSha256;
  if (auth_method == 10 && type == KeyType::EcP384) return SignatureScheme::EcdsaSha384;
  if (auth_method == 11 && type == KeyType::EcP521) return SignatureScheme::EcdsaSha512;
  return std::nullopt;
}

}  // namespace ipsec::crypto
