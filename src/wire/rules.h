// SPDX-License-Identifier: Apache-2.0
// Per-exchange payload rules (RFC 7296 §1.2-§1.5), declared as tables like strongSwan's message.c.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "wire/message.h"

namespace ipsec::wire {

// Where payloads sit: in the datagram, or in the decrypted content of its SK payload.
enum class Layer : uint8_t { Outer, Inner };

inline constexpr uint8_t kAny = 64;  // "0..n" (kMaxPayloads bounds it anyway)

struct PayloadRule {
  PayloadType type;
  uint8_t min;
  uint8_t max;
};

struct ExchangeRules {
  ExchangeType exchange;
  bool response;
  bool encrypted;  // the datagram carries exactly one SK or SKF, nothing else
  std::span<const PayloadRule> payloads;  // the clear payloads, or those inside SK
  std::span<const PayloadType> together;  // all present or none (e.g. SA, TSi, TSr)
};

// The rules of an exchange, or nullptr for an unknown exchange type.
const ExchangeRules* find_rules(ExchangeType exchange, bool response);

// Check the payloads of one layer against the exchange's table: which may appear, how
// often, and in which layer. Unknown (non-critical) payloads are always allowed. A
// response that carries an error Notify (or COOKIE) is exempt from minimum counts.
// Errors read "IKE_SA_INIT request: missing KE payload" and carry INVALID_SYNTAX.
Result<void> check_rules(const Header& header, const std::vector<Payload>& payloads, Layer layer);

// The datagram's own payloads.
inline Result<void> check_rules(const Message& m) {
  return check_rules(m.header, m.payloads, Layer::Outer);
}

}  // namespace ipsec::wire
