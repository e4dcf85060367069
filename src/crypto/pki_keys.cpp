// SPDX-License-Identifier: Apache-2.0
// Private and public keys: PEM/DER parsing (PKCS#8, traditional RSA/EC, encrypted PKCS#8,
// encrypted legacy PEM) through OSSL_DECODER, key types, SubjectPublicKeyInfo.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <string>

#include "crypto/pki_internal.h"

namespace ipsec::crypto {

namespace {

using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, ossl::Deleter<OSSL_DECODER_CTX_free>>;

Result<KeyType> ec_key_type(const EVP_PKEY* key) {
  char name[80] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) {
    return ossl::fail_openssl("EC key: cannot read its curve");
  }
  int nid = EC_curve_nist2nid(name);
  if (nid == NID_undef) nid = OBJ_sn2nid(name);
  switch (nid) {
    case NID_X9_62_prime256v1:
      return KeyType::EcP256;
    case NID_secp384r1:
      return KeyType::EcP384;
    case NID_secp521r1:
      return KeyType::EcP521;
    default:
      return fail(std::string("EC key on unsupported curve ") + name +
                  " (P-256, P-384 and P-521 are supported)");
  }
}

// The passphrase callback used when none was given: never prompts, always fails.
int no_passphrase(char*, size_t, size_t*, const OSSL_PARAM[], void*) { return 0; }

// Encrypted PKCS#8 (PEM or DER EncryptedPrivateKeyInfo) or legacy PEM with DEK-Info.
bool looks_encrypted(ByteView data) {
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
      text.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
    return true;
  }
  const unsigned char* p = data.data();
  std::unique_ptr<X509_SIG, ossl::Deleter<X509_SIG_free>> sig(
      d2i_X509_SIG(nullptr, &p, static_cast<long>(data.size())));
  ERR_clear_error();
  return sig != nullptr;
}

// OSSL_DECODER tries every input form (PEM, DER; PKCS#8, encrypted PKCS#8, type-specific);
// its PEM reader also decrypts legacy "Proc-Type: 4,ENCRYPTED" blocks with the passphrase.
Result<ossl::PkeyPtr> decode(ByteView data, const SecretBytes* passphrase) {
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr ctx(OSSL_DECODER_CTX_new_for_pkey(&raw, nullptr, nullptr, nullptr, EVP_PKEY_KEYPAIR,
                                                  nullptr, nullptr));
  if (!ctx) return ossl::fail_openssl("private key: no decoder available");
  // The context keeps its own copy of the passphrase and clears it when freed.
  int set = passphrase ? OSSL_DECODER_CTX_set_passphrase(
                             ctx.get(), ossl::data_or_empty(passphrase->view()), passphrase->size())
                       : OSSL_DECODER_CTX_set_passphrase_cb(ctx.get(), no_passphrase, nullptr);
  if (set != 1) return ossl::fail_openssl("private key: cannot set the passphrase");
  const unsigned char* p = data.data();
  size_t len = data.size();
  if (OSSL_DECODER_from_data(ctx.get(), &p, &len) != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    ERR_clear_error();  // its messages say nothing the caller can act on
    if (!looks_encrypted(data)) {
      return fail("private key: not a PEM or DER private key (PKCS#8, RSA or EC)");
    }
    if (!passphrase) return fail("private key is encrypted and no passphrase was given");
    return fail("private key: wrong passphrase (or the encrypted key is damaged)");
  }
  ERR_clear_error();  // the decoders that did not match may have left errors behind
  return ossl::PkeyPtr(raw);
}

}  // namespace

std::string_view key_type_name(KeyType t) {
  switch (t) {
    case KeyType::Rsa:
      return "rsa";
    case KeyType::EcP256:
      return "ecdsa-p256";
    case KeyType::EcP384:
      return "ecdsa-p384";
    case KeyType::EcP521:
      return "ecdsa-p521";
    case KeyType::Ed25519:
      return "ed25519";
    case KeyType::Ed448:
      return "ed448";
  }
  return "?";
}

namespace pki {

Result<KeyType> key_type_of(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return KeyType::Rsa;
  if (EVP_PKEY_is_a(key, "EC")) return ec_key_type(key);
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyType::Ed25519;
  if (EVP_PKEY_is_a(key, "ED448")) return KeyType::Ed448;
  const char* name = EVP_PKEY_get0_type_name(key);
  return fail(std::string("unsupported key type ") + (name ? name : "(unknown)") +
              " (RSA, ECDSA P-256/384/521, Ed25519 and Ed448 are supported)");
}

// Through the DER SubjectPublicKeyInfo, so that the PublicKey never holds private material.
Result<PublicKey> public_key_of(const EVP_PKEY* key) {
  Bytes spki = to_der(key, i2d_PUBKEY);
  if (spki.empty()) return ossl::fail_openssl("key: cannot encode the public key");
  return PublicKey::from_spki(spki);
}

}  // namespace pki

PublicKey::PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<PublicKey> PublicKey::from_spki(ByteView der) {
  const unsigned char* p = der.data();
  ossl::PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key) return ossl::fail_openssl("public key: not a DER SubjectPublicKeyInfo");
  if (p != der.data() + der.size()) {
    return fail("public key: " + std::to_string(der.data() + der.size() - p) +
                " bytes after the SubjectPublicKeyInfo");
  }
  auto type = pki::key_type_of(key.get());
  if (!type) return fail("public key: " + type.error().message);
  return PublicKey(std::make_shared<const Impl>(Impl{std::move(key), *type}));
}

KeyType PublicKey::type() const { return impl_->type; }
size_t PublicKey::bits() const { return static_cast<size_t>(EVP_PKEY_get_bits(impl_->key.get())); }
Bytes PublicKey::spki() const { return pki::to_der(impl_->key.get(), i2d_PUBKEY); }

Bytes PublicKey::spki_sha1() const {
  Bytes der = spki();
  Bytes out(20);
  size_t len = 0;
  if (EVP_Q_digest(nullptr, "SHA1", nullptr, der.data(), der.size(), out.data(), &len) != 1 ||
      len != out.size()) {
    ERR_clear_error();
    return {};
  }
  return out;
}

PrivateKey::PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<PrivateKey> PrivateKey::parse(ByteView data, const SecretBytes* passphrase) {
  if (data.empty()) return fail("private key: empty input");
  auto key = decode(data, passphrase);
  if (!key) return fail(key.error());
  auto type = pki::key_type_of(key->get());
  if (!type) return fail("private key: " + type.error().message);
  auto pub = pki::public_key_of(key->get());
  if (!pub) return fail("private key: " + pub.error().message);
  return PrivateKey(std::make_shared<const Impl>(Impl{std::move(*key), *type, std::move(*pub)}));
}

KeyType PrivateKey::type() const { return impl_->type; }
size_t PrivateKey::bits() const { return impl_->pub.bits(); }
PublicKey PrivateKey::public_key() const { return impl_->pub; }

}  // namespace ipsec::crypto
