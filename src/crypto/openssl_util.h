// SPDX-License-Identifier: Apache-2.0
// Private to the OpenSSL backend: RAII owners for OpenSSL objects and error conversion.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace ipsec::crypto::ossl {

// unique_ptr deleter calling an OpenSSL free function.
template <auto FreeFn>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_clear_free>>;  // wipes: may hold a private key
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT_clear_free>>;

// "<what>: <first OpenSSL error>" and clears the thread's error queue.
Error openssl_error(std::string_view what);
inline Unexpected<Error> fail_openssl(std::string_view what) { return fail(openssl_error(what)); }

// Builds an EVP_PKEY of `type` ("DH", "EC") from parameters; selection is
// EVP_PKEY_PUBLIC_KEY or EVP_PKEY_KEYPAIR.
Result<PkeyPtr> pkey_from_params(const char* type, OSSL_PARAM_BLD* bld, int selection);

// Key agreement own x peer. pad_dh: pad a DH secret to the modulus length
// (RFC 7296 §2.14: g^ir is as long as the modulus, with leading zeros).
Result<SecretBytes> derive_shared(EVP_PKEY* own, EVP_PKEY* peer, bool pad_dh,
                                  std::string_view what);

// Lets an empty ByteView be passed where OpenSSL wants a non-null pointer.
inline const unsigned char* data_or_empty(ByteView v) {
  static const unsigned char kEmpty = 0;
  return v.empty() ? &kEmpty : v.data();
}

}  // namespace ipsec::crypto::ossl
