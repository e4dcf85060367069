// SPDX-License-Identifier: Apache-2.0
// ECP groups 19, 20, 21 (RFC 5903) through EVP_PKEY "EC"; public value x | y without 0x04.
#include <openssl/core_names.h>
#include <openssl/obj_mac.h>

#include <string>

#include "crypto/ke_backends.h"
#include "crypto/openssl_util.h"

namespace ipsec::crypto::detail {

namespace {

const char* curve_name(KeGroup g) {
  switch (g) {
    case KeGroup::Ecp384:
      return "P-384";
    case KeGroup::Ecp521:
      return "P-521";
    default:
      return "P-256";
  }
}

int curve_nid(KeGroup g) {
  switch (g) {
    case KeGroup::Ecp384:
      return NID_secp384r1;
    case KeGroup::Ecp521:
      return NID_secp521r1;
    default:
      return NID_X9_62_prime256v1;
  }
}

// Imports a public point (0x04 | x | y) and, when given, the private scalar.
Result<ossl::PkeyPtr> import(KeGroup g, ByteView uncompressed, const BIGNUM* priv) {
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve_name(g), 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, uncompressed.data(),
                                       uncompressed.size()) != 1 ||
      (priv && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1)) {
    return ossl::fail_openssl(std::string(ke_group_name(g)) + ": cannot build key parameters");
  }
  return ossl::pkey_from_params("EC", bld.get(), priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
}

// Q = d * G for a given scalar d, then import the key pair.
Result<ossl::PkeyPtr> from_private(KeGroup g, const SecretBytes& key) {
  const std::string what(ke_group_name(g));
  if (key.size() != ke_shared_secret_size(g)) return fail(what + ": private key has wrong size");
  ossl::EcGroupPtr group(EC_GROUP_new_by_curve_name(curve_nid(g)));
  ossl::BnPtr d(BN_secure_new());
  ossl::BnCtxPtr bn_ctx(BN_CTX_secure_new());
  if (!group || !d || !bn_ctx || !BN_bin2bn(key.data(), static_cast<int>(key.size()), d.get())) {
    return ossl::fail_openssl(what + ": cannot load private key");
  }
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return fail(what + ": private key out of range");
  }
  ossl::EcPointPtr q(EC_POINT_new(group.get()));
  Bytes pub(1 + ke_public_value_size(g));
  if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, pub.data(),
                         pub.size(), bn_ctx.get()) != pub.size()) {
    return ossl::fail_openssl(what + ": cannot compute public value");
  }
  return import(g, pub, d.get());
}

Result<ossl::PkeyPtr> generate(KeGroup g) {
  ossl::PkeyPtr key(EVP_EC_gen(curve_name(g)));
  if (!key) return ossl::fail_openssl(std::string(ke_group_name(g)) + ": key generation failed");
  return key;
}

// RFC 5903 §7: the KE data is x | y, each the field size; no point format octet.
Result<Bytes> export_public(KeGroup g, EVP_PKEY* key) {
  Bytes buf(1 + ke_public_value_size(g));
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf.data(), buf.size(), &len) !=
          1 ||
      len != buf.size() || buf[0] != 0x04) {
    return ossl::fail_openssl(std::string(ke_group_name(g)) + ": cannot read public value");
  }
  return Bytes(buf.begin() + 1, buf.end());
}

class EcpKeyExchange final : public KeyExchangeBase {
 public:
  using KeyExchangeBase::KeyExchangeBase;

  Result<SecretBytes> shared_secret(ByteView peer) const override {
    const std::string what(ke_group_name(group_));
    if (auto r = check_peer_size(peer, what, " (x | y, RFC 5903 §7)"); !r)
      return fail(std::move(r.error()));
    Bytes point{0x04};
    point.insert(point.end(), peer.begin(), peer.end());
    auto peer_key = import(group_, point, nullptr);
    if (!peer_key) {
      return fail(what + ": peer public value is not a point on the curve (RFC 5903 §7; " +
                  peer_key.error().message + ")");
    }
    auto checked = check_public(peer_key->get(), what);
    if (!checked) return fail(checked.error());
    return ossl::derive_shared(key_.get(), peer_key->get(), false, what);
  }

 private:
  // Full public key validation: on the curve, not the point at infinity, right order.
  static Result<void> check_public(EVP_PKEY* key, const std::string& what) {
    ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
      return fail(ossl::openssl_error(what + ": peer public value is not a valid curve point"));
    }
    return ok();
  }
};

}  // namespace

Result<std::unique_ptr<KeyExchange>> make_ecp(KeGroup g, const SecretBytes* private_key) {
  auto key = private_key ? from_private(g, *private_key) : generate(g);
  if (!key) return fail(key.error());
  auto pub = export_public(g, key->get());
  if (!pub) return fail(pub.error());
  return std::unique_ptr<KeyExchange>(new EcpKeyExchange(g, std::move(*key), std::move(*pub)));
}

}  // namespace ipsec::crypto::detail
