// SPDX-License-Identifier: Apache-2.0
// IKEv2/ESP proposal keywords as strongSwan spells them, with their IANA numbers: one table.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/connection.h"

namespace ipsec::policy {

// RFC 7296 §3.3.2 transform types. Plain integers: the policy layer does not know src/wire.
inline constexpr uint8_t kTransformEncr = 1;
inline constexpr uint8_t kTransformPrf = 2;
inline constexpr uint8_t kTransformInteg = 3;
inline constexpr uint8_t kTransformGroup = 4;
inline constexpr uint8_t kTransformEsn = 5;

struct AlgorithmKeyword {
  std::string_view name;  // "aes256gcm16"
  uint8_t type;           // kTransform*
  uint16_t id;            // IANA transform id
  uint16_t key_bits;      // ENCR Key Length attribute; 0: none
  bool aead;              // ENCR only
  bool insecure;          // refused unless the connection sets allow_insecure
  bool legacy;            // accepted with a warning
  uint16_t prf;           // INTEG only: the PRF a proposal without one gets (strongSwan's rule)
};

std::span<const AlgorithmKeyword> algorithm_keywords();
const AlgorithmKeyword* find_algorithm(std::string_view name);

enum class ProposalKind { Ike, Esp };

// Parses one '-'-separated proposal ("aes256-sha256-modp2048"). Errors name the
// keyword and what is accepted; warnings (legacy or opted-in insecure algorithms)
// are appended to `warnings`.
Result<Proposal> parse_proposal(std::string_view text, ProposalKind kind, bool allow_insecure,
                                std::vector<std::string>& warnings);

// Used when a connection or child names no proposals.
inline constexpr std::string_view kDefaultIkeProposals[] = {
    "aes256gcm16-aes128gcm16-prfsha256-prfsha384-x25519-ecp256-modp3072",
    "aes256-aes128-sha256-sha384-x25519-ecp256-modp3072"};
inline constexpr std::string_view kDefaultEspProposals[] = {"aes256gcm16-aes128gcm16",
                                                            "aes256-aes128-sha256-sha384"};

}  // namespace ipsec::policy
