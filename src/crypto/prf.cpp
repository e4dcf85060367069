// SPDX-License-Identifier: Apache-2.0
// HMAC through EVP_MAC, the IKEv2 PRFs and prf+ (RFC 7296 §2.13).
#include "crypto/prf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include <string>

#include "crypto/openssl_util.h"

namespace ipsec::crypto {

namespace {

const char* digest_ossl_name(Digest d) {
  switch (d) {
    case Digest::Sha1:
      return "SHA1";
    case Digest::Sha256:
      return "SHA2-256";
    case Digest::Sha384:
      return "SHA2-384";
    case Digest::Sha512:
      return "SHA2-512";
  }
  return "SHA2-256";
}

Result<ossl::MacCtxPtr> hmac_init(Digest d, ByteView key) {
  ossl::MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return ossl::fail_openssl("HMAC: not available");
  ossl::MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) return ossl::fail_openssl("HMAC: cannot allocate context");
  char* name = const_cast<char*>(digest_ossl_name(d));
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), ossl::data_or_empty(key), key.size(), params) != 1) {
    return ossl::fail_openssl(std::string("HMAC-") + name + ": init failed");
  }
  return ctx;
}

}  // namespace

size_t digest_size(Digest d) {
  switch (d) {
    case Digest::Sha1:
      return 20;
    case Digest::Sha256:
      return 32;
    case Digest::Sha384:
      return 48;
    case Digest::Sha512:
      return 64;
  }
  return 0;
}

Digest prf_digest(PrfAlgorithm prf) {
  switch (prf) {
    case PrfAlgorithm::HmacSha1:
      return Digest::Sha1;
    case PrfAlgorithm::HmacSha2_256:
      return Digest::Sha256;
    case PrfAlgorithm::HmacSha2_384:
      return Digest::Sha384;
    case PrfAlgorithm::HmacSha2_512:
      return Digest::Sha512;
  }
  return Digest::Sha256;
}

std::string_view prf_name(PrfAlgorithm prf) {
  switch (prf) {
    case PrfAlgorithm::HmacSha1:
      return "prfsha1";
    case PrfAlgorithm::HmacSha2_256:
      return "prfsha256";
    case PrfAlgorithm::HmacSha2_384:
      return "prfsha384";
    case PrfAlgorithm::HmacSha2_512:
      return "prfsha512";
  }
  return "prf?";
}

size_t prf_output_size(PrfAlgorithm prf) { return digest_size(prf_digest(prf)); }
size_t prf_key_size(PrfAlgorithm prf) { return prf_output_size(prf); }

Result<SecretBytes> hmac(Digest d, ByteView key, std::initializer_list<ByteView> parts) {
  auto ctx = hmac_init(d, key);
  if (!ctx) return fail(ctx.error());
  for (ByteView part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx->get(), part.data(), part.size()) != 1) {
      return ossl::fail_openssl("HMAC: update failed");
    }
  }
  Bytes out(digest_size(d));
  size_t len = 0;
  if (EVP_MAC_final(ctx->get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    OPENSSL_cleanse(out.data(), out.size());
    return ossl::fail_openssl("HMAC: final failed");
  }
  return SecretBytes(std::move(out));
}

Result<Bytes> digest(Digest d, std::initializer_list<ByteView> parts) {
  std::unique_ptr<EVP_MD, ossl::Deleter<EVP_MD_free>> md(
      EVP_MD_fetch(nullptr, digest_ossl_name(d), nullptr));
  std::unique_ptr<EVP_MD_CTX, ossl::Deleter<EVP_MD_CTX_free>> ctx(EVP_MD_CTX_new());
  if (!md || !ctx) return ossl::fail_openssl(std::string(digest_ossl_name(d)) + ": not available");
  if (EVP_DigestInit_ex2(ctx.get(), md.get(), nullptr) != 1)
    return ossl::fail_openssl(std::string(digest_ossl_name(d)) + ": init failed");
  for (ByteView part : parts)
    if (!part.empty() && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1)
      return ossl::fail_openssl(std::string(digest_ossl_name(d)) + ": update failed");
  Bytes out(digest_size(d));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
    return ossl::fail_openssl(std::string(digest_ossl_name(d)) + ": final failed");
  return out;
}

Result<SecretBytes> prf(PrfAlgorithm alg, ByteView key, ByteView data) {
  return hmac(prf_digest(alg), key, {data});
}

Result<SecretBytes> prf_plus(PrfAlgorithm alg, ByteView key, ByteView seed, size_t length) {
  const size_t block = prf_output_size(alg);
  const size_t rounds = (length + block - 1) / block;
  if (rounds > 255) {
    return fail("prf+: " + std::to_string(length) + " bytes need " + std::to_string(rounds) +
                " iterations, RFC 7296 §2.13 allows 255");
  }
  Bytes out;
  out.reserve(rounds * block);
  SecretBytes t;  // T(n-1); empty for n = 1
  for (size_t n = 1; n <= rounds; ++n) {
    const uint8_t counter = static_cast<uint8_t>(n);
    auto next = hmac(prf_digest(alg), key, {t.view(), seed, ByteView(&counter, 1)});
    if (!next) {
      secure_wipe(out.data(), out.size());
      return fail(next.error());
    }
    t = std::move(*next);
    out.insert(out.end(), t.data(), t.data() + t.size());
  }
  secure_wipe(out.data() + length, out.size() - length);
  out.resize(length);
  return SecretBytes(std::move(out));
}

}  // namespace ipsec::crypto
