// SPDX-License-Identifier: Apache-2.0
// Public-key material for IKE authentication (RFC 7296 §2.15, §3.6-3.8; RFC 7427), over
// OpenSSL 3 (no OpenSSL type in this header): private keys, public keys, signature schemes
// and their RFC 7427 AlgorithmIdentifiers, X.509 certificates, distinguished names, and a
// trust store that builds and verifies chains (X509_STORE) with CRLs.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/ip.h"
#include "common/result.h"
#include "common/secret.h"

namespace ipsec::crypto {

enum class KeyType : uint8_t { Rsa, EcP256, EcP384, EcP521, Ed25519, Ed448 };
std::string_view key_type_name(KeyType t);  // "rsa", "ecdsa-p256", "ed25519", ...

// What is signed and how. RsaPkcs1Sha1 and EcdsaSha256/384/512 with `raw` are the
// signatures of AUTH methods 1 and 9/10/11 (RFC 7296 §3.8, RFC 4754: r|s, fixed size);
// every scheme is available for AUTH method 14 (RFC 7427: ECDSA as DER).
enum class SignatureScheme : uint8_t {
  RsaPkcs1Sha1,
  RsaPkcs1Sha256,
  RsaPkcs1Sha384,
  RsaPkcs1Sha512,
  RsaPssSha256,  // MGF1 with the same hash, salt length = hash length (RFC 8247 §3.2)
  RsaPssSha384,
  RsaPssSha512,
  EcdsaSha256,
  EcdsaSha384,
  EcdsaSha512,
  Ed25519,
  Ed448,
};
std::string_view scheme_name(SignatureScheme s);  // "rsa-pss-sha256", "ecdsa-sha384", ...
// The scheme scheme_name() calls `name`; nullopt when none does.
std::optional<SignatureScheme> scheme_from_name(std::string_view name);
// Every scheme, in the order of the enumeration (for lists of accepted names).
std::span<const SignatureScheme> all_schemes();
// Whether a key of `type` signs with `s` (RFC 7427: any ECDSA hash with any curve; EdDSA
// only its own scheme).
bool scheme_fits(KeyType type, SignatureScheme s);

// RFC 7427 §4 / IANA "IKEv2 Hash Algorithms": 1 SHA1, 2 SHA2-256, 3 SHA2-384, 4 SHA2-512,
// 5 Identity (EdDSA).
uint16_t signature_hash(SignatureScheme s);
// RFC 7427 §3: the DER AlgorithmIdentifier of a scheme (as strongSwan and Libreswan send
// it: PKCS#1 with NULL parameters, PSS with explicit RSASSA-PSS-params, ECDSA and EdDSA
// without parameters), and the scheme a received one names (nullopt: unknown).
Bytes algorithm_identifier(SignatureScheme s);
std::optional<SignatureScheme> scheme_from_algorithm_identifier(ByteView der);

// The schemes `type` can sign with, best first (RSA: PSS before PKCS#1 when `prefer_pss`;
// the hash grows with the key), keeping only those whose hash the peer announced in
// SIGNATURE_HASH_ALGORITHMS (an empty list: no filter).
std::vector<SignatureScheme> schemes_for(KeyType type, std::span<const uint16_t> peer_hashes,
                                         bool prefer_pss = true);
// The scheme of AUTH methods 1 and 9/10/11 for a key (method 1: RsaPkcs1Sha1; 9: P-256
// with SHA-256; 10: P-384/SHA-384; 11: P-521/SHA-512); nullopt when the method does not
// fit the key.
std::optional<SignatureScheme> scheme_for_method(uint8_t auth_method, KeyType type);

class PublicKey {
 public:
  // A DER SubjectPublicKeyInfo.
  static Result<PublicKey> from_spki(ByteView der);
  KeyType type() const;
  size_t bits() const;
  Bytes spki() const;       // DER SubjectPublicKeyInfo
  Bytes spki_sha1() const;  // RFC 7296 §3.7 CERTREQ: SHA-1 of the SubjectPublicKeyInfo
  friend bool operator==(const PublicKey& a, const PublicKey& b) { return a.spki() == b.spki(); }
  // `raw`: ECDSA as r|s (methods 9/10/11), each the curve's size; no effect on other
  // schemes. Any ECDSA hash goes with any curve (RFC 7427). The error says why (wrong key
  // type, bad signature).
  Result<void> verify(SignatureScheme s, ByteView data, ByteView signature, bool raw = false) const;

  struct Impl;  // the backend's (pki_internal.h)
  explicit PublicKey(std::shared_ptr<const Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

class PrivateKey {
 public:
  // PEM or DER, PKCS#8 or the traditional RSA/EC forms, or encrypted PKCS#8 / encrypted
  // PEM with `passphrase`. Every temporary copy of key material is wiped. The error never
  // quotes the input.
  static Result<PrivateKey> parse(ByteView data, const SecretBytes* passphrase = nullptr);
  KeyType type() const;
  size_t bits() const;
  PublicKey public_key() const;
  // The same key (a configuration compared on reload).
  friend bool operator==(const PrivateKey& a, const PrivateKey& b) {
    return a.public_key() == b.public_key();
  }
  // `raw` as in PublicKey::verify. A scheme that does not fit the key type is refused.
  Result<Bytes> sign(SignatureScheme s, ByteView data, bool raw = false) const;

  struct Impl;  // the backend's (pki_internal.h)
  explicit PrivateKey(std::shared_ptr<const Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// A distinguished name as DER (RDNSequence) and as text "C=DE, O=Example, CN=gw-b"
// (RFC 4514 attribute names, in the order of the sequence, ", " between RDNs; escaping
// of ',', '+', '"', '\\', '<', '>', ';' and leading/trailing spaces as RFC 4514). The
// values of a multi-valued RDN ("OU=a + CN=b") come back in DER SET order.
Result<Bytes> dn_from_text(std::string_view text);  // RDN order as written
std::string dn_to_text(ByteView der);               // "" when `der` is not a Name

class Certificate {
 public:
  // One DER certificate, or one or more PEM certificates (other PEM blocks are skipped).
  // A certificate whose key is not one of KeyType is refused (the error names it).
  static Result<std::vector<Certificate>> parse(ByteView pem_or_der);
  Bytes der() const;
  friend bool operator==(const Certificate& a, const Certificate& b) { return a.der() == b.der(); }
  Bytes subject() const;  // DER Name
  Bytes issuer() const;
  std::string subject_text() const;            // dn_to_text(subject())
  std::vector<std::string> dns_names() const;  // subjectAltName
  std::vector<IpAddress> ip_addresses() const;
  std::vector<std::string> emails() const;
  PublicKey public_key() const;
  bool is_ca() const;  // basicConstraints cA
  std::time_t not_before() const, not_after() const;

  struct Impl;  // the backend's (pki_internal.h)
  explicit Certificate(std::shared_ptr<const Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// Trust anchors and CRLs; verifies end-entity certificates through X509_STORE (validity,
// basicConstraints, keyUsage, path length, revocation by the CRLs held).
class TrustStore {
 public:
  TrustStore();
  void add_anchor(const Certificate& ca);
  // A CRL (PEM or DER); refused unless signed by one of the anchors (or an intermediate
  // passed to verify, checked then).
  Result<void> add_crl(ByteView pem_or_der);
  // The chain from `leaf` to an anchor, leaf first, anchor last. The error says what an
  // operator acts on: "certificate C=DE, O=Example, CN=gw-b revoked on 2026-11-02
  // (keyCompromise), by CRL of C=DE, O=Example, CN=Example CA", "certificate ... expired
  // on 2026-01-31", "... is not valid before ...", "CRL of ... expired on ..."; else the
  // OpenSSL verify error and the subject it concerns: "unable to get local issuer
  // certificate (C=DE, O=Example, CN=gw-b, depth 0)".
  // With CRLs held, every certificate is checked against its issuer's CRL; the leaf's
  // issuer must have one here, a CA certificate whose issuer has none passes.
  Result<std::vector<Certificate>> verify(const Certificate& leaf,
                                          std::span<const Certificate> intermediates,
                                          std::time_t at) const;
  // SHA-1 of each anchor's SubjectPublicKeyInfo (our CERTREQ).
  std::vector<Bytes> anchor_key_hashes() const;
  const std::vector<Certificate>& anchors() const;
  // Whether a CRL of `issuer` (by its subject) is held: the revocation status of what it
  // issued is then known without OCSP.
  bool has_crl_of(const Certificate& issuer) const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// What a CRL says about itself (for `ipsecctl list-certs`): its issuer, thisUpdate,
// nextUpdate (0: none) and how many certificates it lists.
struct CrlInfo {
  std::string issuer;
  std::time_t last_update = 0, next_update = 0;
  size_t revoked = 0;
};
Result<CrlInfo> describe_crl(ByteView pem_or_der);

// "certificate C=DE, O=Example, CN=gw-b revoked on 2026-11-02 (keyCompromise), by <by>"
// (`reason`: RFC 5280 §5.3.1 CRLReason, -1 when none was given: no parenthesis).
std::string revoked_text(std::string_view subject, std::time_t when, long reason,
                         std::string_view by);

}  // namespace ipsec::crypto
