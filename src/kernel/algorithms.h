// SPDX-License-Identifier: Apache-2.0
// The one table mapping the algorithm keywords of policy files to the names
// the kernel's XFRM layer uses, with key sizes and ICV/truncation lengths.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

namespace ipsec::kernel {

enum class AlgKind : uint8_t { Encryption, Integrity, Aead, Compression };

struct AlgorithmInfo {
  std::string_view keyword;      // in policy files: "aes-cbc", "hmac-sha256", "aes-gcm-16"
  std::string_view kernel_name;  // "cbc(aes)", "hmac(sha256)", "rfc4106(gcm(aes))"
  AlgKind kind;
  // Allowed key lengths in bytes, including any salt/nonce the kernel expects
  // at the end of the key (4 bytes for rfc3686 CTR, rfc4106 GCM, rfc7539esp).
  std::initializer_list<uint16_t> key_bytes;
  uint16_t bits;       // auth truncation or AEAD ICV length; 0 otherwise
  bool insecure;       // refused unless the object opts in (allow_insecure)
  bool ah_ok;          // usable with AH (integrity only)
  uint8_t salt_bytes;  // trailing nonce/salt inside key_bytes (RFC 3686, 4106, 7634)
};

// All known algorithms.
std::span<const AlgorithmInfo> algorithms();

// By policy keyword (case-sensitive). nullptr when unknown.
const AlgorithmInfo* find_algorithm(std::string_view keyword);

// By kernel name and kind; for AEAD and integrity also by bits, since one
// kernel name covers several keywords ("rfc4106(gcm(aes))" with 64/96/128).
const AlgorithmInfo* find_algorithm_by_kernel(std::string_view kernel_name, AlgKind kind,
                                              uint32_t bits);

}  // namespace ipsec::kernel
