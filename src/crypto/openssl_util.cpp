// SPDX-License-Identifier: Apache-2.0
// OpenSSL error strings and the shared EVP_PKEY helpers of the backend.
#include "crypto/openssl_util.h"

#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/err.h>

#include <string>

namespace ipsec::crypto::ossl {

Error openssl_error(std::string_view what) {
  std::string msg(what);
  unsigned long code = ERR_get_error();
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return Error{std::move(msg), 0};
}

Result<PkeyPtr> pkey_from_params(const char* type, OSSL_PARAM_BLD* bld, int selection) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) {
    return fail_openssl(std::string(type) + ": cannot prepare key import");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) <= 0) {
    return fail_openssl(std::string(type) + ": key import rejected");
  }
  return PkeyPtr(raw);
}

Result<SecretBytes> derive_shared(EVP_PKEY* own, EVP_PKEY* peer, bool pad_dh,
                                  std::string_view what) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0) {
    return fail_openssl(std::string(what) + ": cannot start key agreement");
  }
  if (pad_dh && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) <= 0) {
    return fail_openssl(std::string(what) + ": cannot request padded DH secret");
  }
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer) <= 0) {
    return fail_openssl(std::string(what) + ": peer public value rejected");
  }
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0) {
    return fail_openssl(std::string(what) + ": key agreement failed");
  }
  Bytes out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) <= 0) {
    OPENSSL_cleanse(out.data(), out.size());
    return fail_openssl(std::string(what) + ": key agreement failed");
  }
  out.resize(len);
  return SecretBytes(std::move(out));
}

}  // namespace ipsec::crypto::ossl
