// SPDX-License-Identifier: Apache-2.0
// The one table mapping policy keywords to kernel algorithm names.
#include "kernel/algorithms.h"

#include <array>

namespace ipsec::kernel {

namespace {
using K = AlgKind;
// RFC 4303/4106/3686/7634, RFC 4868 (HMAC-SHA2 truncations), RFC 2404 (SHA1-96).
const std::array<AlgorithmInfo, 15> kAlgorithms{{
    {"aes-cbc", "cbc(aes)", K::Encryption, {16, 24, 32}, 0, false, false, 0},
    {"aes-ctr", "rfc3686(ctr(aes))", K::Encryption, {20, 28, 36}, 0, false, false, 4},
    {"null", "ecb(cipher_null)", K::Encryption, {0}, 0, false, false, 0},
    {"3des-cbc", "cbc(des3_ede)", K::Encryption, {24}, 0, true, false, 0},
    {"aes-gcm-8", "rfc4106(gcm(aes))", K::Aead, {20, 28, 36}, 64, false, false, 4},
    {"aes-gcm-12", "rfc4106(gcm(aes))", K::Aead, {20, 28, 36}, 96, false, false, 4},
    {"aes-gcm-16", "rfc4106(gcm(aes))", K::Aead, {20, 28, 36}, 128, false, false, 4},
    {"chacha20-poly1305", "rfc7539esp(chacha20,poly1305)", K::Aead, {36}, 128, false, false, 4},
    {"hmac-sha1", "hmac(sha1)", K::Integrity, {20}, 96, false, true, 0},
    {"hmac-sha256", "hmac(sha256)", K::Integrity, {32}, 128, false, true, 0},
    {"hmac-sha384", "hmac(sha384)", K::Integrity, {48}, 192, false, true, 0},
    {"hmac-sha512", "hmac(sha512)", K::Integrity, {64}, 256, false, true, 0},
    {"hmac-md5", "hmac(md5)", K::Integrity, {16}, 96, true, true, 0},
    {"deflate", "deflate", K::Compression, {0}, 0, false, false, 0},
    {"lzs", "lzs", K::Compression, {0}, 0, false, false, 0},
}};
}  // namespace

std::span<const AlgorithmInfo> algorithms() { return kAlgorithms; }

const AlgorithmInfo* find_algorithm(std::string_view keyword) {
  for (const auto& a : kAlgorithms)
    if (a.keyword == keyword) return &a;
  return nullptr;
}

const AlgorithmInfo* find_algorithm_by_kernel(std::string_view kernel_name, AlgKind kind,
                                              uint32_t bits) {
  const AlgorithmInfo* name_match = nullptr;
  for (const auto& a : kAlgorithms) {
    if (a.kind != kind || a.kernel_name != kernel_name) continue;
    if (kind == AlgKind::Encryption || kind == AlgKind::Compression || a.bits == bits) return &a;
    name_match = &a;
  }
  // Integrity with a non-standard truncation: still the same algorithm.
  return kind == AlgKind::Integrity ? name_match : nullptr;
}

}  // namespace ipsec::kernel
