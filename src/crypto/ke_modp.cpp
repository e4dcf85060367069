// SPDX-License-Identifier: Apache-2.0
// MODP Diffie-Hellman groups 14, 15, 16 (RFC 3526) through EVP_PKEY "DH".
#include <openssl/core_names.h>

#include <string>

#include "crypto/ke_backends.h"
#include "crypto/openssl_util.h"

namespace ipsec::crypto::detail {

namespace {

using ossl::BnPtr;

const char* ossl_group_name(KeGroup g) {
  switch (g) {
    case KeGroup::Modp3072:
      return "modp_3072";
    case KeGroup::Modp4096:
      return "modp_4096";
    default:
      return "modp_2048";
  }
}

BnPtr rfc3526_prime(KeGroup g) {
  switch (g) {
    case KeGroup::Modp3072:
      return BnPtr(BN_get_rfc3526_prime_3072(nullptr));
    case KeGroup::Modp4096:
      return BnPtr(BN_get_rfc3526_prime_4096(nullptr));
    default:
      return BnPtr(BN_get_rfc3526_prime_2048(nullptr));
  }
}

// RFC 7296 §5 / RFC 8247 §2.4 (NIST SP 800-56A partial validation): 1 < y < p-1.
bool in_open_range(const BIGNUM* y, const BIGNUM* p) {
  BnPtr p_minus_1(BN_dup(p));
  if (!p_minus_1 || BN_sub_word(p_minus_1.get(), 1) != 1) return false;
  return BN_cmp(y, BN_value_one()) > 0 && BN_cmp(y, p_minus_1.get()) < 0;
}

Result<ossl::PkeyPtr> import(KeGroup g, const BIGNUM* priv, const BIGNUM* pub) {
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, ossl_group_name(g),
                                      0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub) != 1 ||
      (priv && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1)) {
    return ossl::fail_openssl(std::string(ke_group_name(g)) + ": cannot build key parameters");
  }
  return ossl::pkey_from_params("DH", bld.get(), priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
}

Result<ossl::PkeyPtr> generate(KeGroup g) {
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  char* name = const_cast<char*>(ossl_group_name(g));
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, name, 0),
                         OSSL_PARAM_construct_end()};
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_params(ctx.get(), params) <= 0 || EVP_PKEY_generate(ctx.get(), &raw) <= 0) {
    return ossl::fail_openssl(std::string(ke_group_name(g)) + ": key generation failed");
  }
  return ossl::PkeyPtr(raw);
}

// Public value y = 2^x mod p for a given private exponent (RFC 3526: generator 2).
Result<ossl::PkeyPtr> from_private(KeGroup g, const SecretBytes& key, const BIGNUM* p) {
  const std::string what(ke_group_name(g));
  BnPtr x(BN_secure_new());
  BnPtr y(BN_new());
  BnPtr two(BN_new());
  ossl::BnCtxPtr bn_ctx(BN_CTX_secure_new());
  if (!x || !y || !two || !bn_ctx ||
      !BN_bin2bn(key.data(), static_cast<int>(key.size()), x.get()) ||
      BN_set_word(two.get(), 2) != 1) {
    return ossl::fail_openssl(what + ": cannot load private key");
  }
  if (!in_open_range(x.get(), p)) return fail(what + ": private key out of range");
  BN_set_flags(x.get(), BN_FLG_CONSTTIME);
  if (BN_mod_exp(y.get(), two.get(), x.get(), p, bn_ctx.get()) != 1) {
    return ossl::fail_openssl(what + ": cannot compute public value");
  }
  return import(g, x.get(), y.get());
}

class ModpKeyExchange final : public KeyExchangeBase {
 public:
  ModpKeyExchange(KeGroup g, ossl::PkeyPtr key, Bytes pub, BnPtr p)
      : KeyExchangeBase(g, std::move(key), std::move(pub)), p_(std::move(p)) {}

  Result<SecretBytes> shared_secret(ByteView peer) const override {
    const std::string what(ke_group_name(group_));
    if (auto r = check_peer_size(peer, what, ""); !r) return fail(std::move(r.error()));
    BnPtr y(BN_bin2bn(peer.data(), static_cast<int>(peer.size()), nullptr));
    if (!y) return ossl::fail_openssl(what + ": cannot load peer public value");
    if (!in_open_range(y.get(), p_.get())) {
      return fail(what +
                  ": peer public value out of range, must satisfy 1 < y < p-1 "
                  "(RFC 7296 §5, RFC 8247 §2.4)");
    }
    auto peer_key = import(group_, nullptr, y.get());
    if (!peer_key) return fail(peer_key.error());
    return ossl::derive_shared(key_.get(), peer_key->get(), true, what);
  }

 private:
  BnPtr p_;
};

Result<Bytes> export_public(KeGroup g, EVP_PKEY* key, size_t size) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PUB_KEY, &raw) != 1) {
    return ossl::fail_openssl(std::string(ke_group_name(g)) + ": cannot read public value");
  }
  BnPtr y(raw);
  Bytes out(size);
  if (BN_bn2binpad(y.get(), out.data(), static_cast<int>(size)) < 0) {
    return ossl::fail_openssl(std::string(ke_group_name(g)) + ": public value too long");
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<KeyExchange>> make_modp(KeGroup g, const SecretBytes* private_key) {
  BnPtr p = rfc3526_prime(g);
  if (!p) return ossl::fail_openssl(std::string(ke_group_name(g)) + ": no prime");
  auto key = private_key ? from_private(g, *private_key, p.get()) : generate(g);
  if (!key) return fail(key.error());
  auto pub = export_public(g, key->get(), ke_public_value_size(g));
  if (!pub) return fail(pub.error());
  return std::unique_ptr<KeyExchange>(
      new ModpKeyExchange(g, std::move(*key), std::move(*pub), std::move(p)));
}

}  // namespace ipsec::crypto::detail
