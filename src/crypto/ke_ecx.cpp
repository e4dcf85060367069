// SPDX-License-Identifier: Apache-2.0
// Curve25519 and Curve448 (RFC 8031, RFC 7748) through EVP_PKEY "X25519" / "X448".
#include <openssl/crypto.h>

#include <string>

#include "crypto/ke_backends.h"
#include "crypto/openssl_util.h"

namespace ipsec::crypto::detail {

namespace {

const char* algorithm(KeGroup g) { return g == KeGroup::Curve448 ? "X448" : "X25519"; }

Result<ossl::PkeyPtr> load_private(KeGroup g, const SecretBytes* key) {
  const std::string what(ke_group_name(g));
  if (!key) {
    ossl::PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm(g)));
    if (!pkey) return ossl::fail_openssl(what + ": key generation failed");
    return pkey;
  }
  if (key->size() != ke_public_value_size(g)) return fail(what + ": private key has wrong size");
  ossl::PkeyPtr pkey(
      EVP_PKEY_new_raw_private_key_ex(nullptr, algorithm(g), nullptr, key->data(), key->size()));
  if (!pkey) return ossl::fail_openssl(what + ": cannot load private key");
  return pkey;
}

bool all_zero(const SecretBytes& s) {
  unsigned char acc = 0;
  for (size_t i = 0; i < s.size(); ++i) acc = static_cast<unsigned char>(acc | s.data()[i]);
  return acc == 0;
}

class EcxKeyExchange final : public KeyExchangeBase {
 public:
  using KeyExchangeBase::KeyExchangeBase;

  Result<SecretBytes> shared_secret(ByteView peer) const override {
    const std::string what(ke_group_name(group_));
    if (auto r = check_peer_size(peer, what, " (RFC 8031 §2)"); !r)
      return fail(std::move(r.error()));
    ossl::PkeyPtr peer_key(EVP_PKEY_new_raw_public_key_ex(nullptr, algorithm(group_), nullptr,
                                                          peer.data(), peer.size()));
    if (!peer_key) return ossl::fail_openssl(what + ": cannot load peer public value");
    auto secret = ossl::derive_shared(key_.get(), peer_key.get(), false, what);
    // RFC 8031 §2 / RFC 7748 §6: an all-zero result means a low-order peer value. OpenSSL
    // refuses it inside derive; check again so the rule does not depend on that.
    if (!secret) {
      return fail(secret.error().message +
                  " (a low-order peer value giving an all-zero secret is refused, RFC 7748 §6)");
    }
    if (all_zero(*secret)) {
      return fail(what +
                  ": peer public value gives an all-zero shared secret, refused "
                  "(RFC 8031 §2, RFC 7748 §6)");
    }
    return secret;
  }
};

}  // namespace

Result<std::unique_ptr<KeyExchange>> make_ecx(KeGroup g, const SecretBytes* private_key) {
  auto key = load_private(g, private_key);
  if (!key) return fail(key.error());
  Bytes pub(ke_public_value_size(g));
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key->get(), pub.data(), &len) != 1 || len != pub.size()) {
    return ossl::fail_openssl(std::string(ke_group_name(g)) + ": cannot read public value");
  }
  return std::unique_ptr<KeyExchange>(new EcxKeyExchange(g, std::move(*key), std::move(pub)));
}

}  // namespace ipsec::crypto::detail
