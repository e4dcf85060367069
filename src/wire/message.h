// SPDX-License-Identifier: Apache-2.0
// The IKEv2 message (RFC 7296 §3.1 header + payload chain): parse and encode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "wire/payloads.h"
#include "wire/types.h"

namespace ipsec::wire {

inline constexpr size_t kHeaderSize = 28;
inline constexpr size_t kGenericHeaderSize = 4;

// Limits on what a peer can make us allocate; anything above is INVALID_SYNTAX.
inline constexpr size_t kMaxPayloads = 64;        // per message, and per SK content
inline constexpr size_t kMaxProposals = 64;       // per SA payload
inline constexpr size_t kMaxTransforms = 64;      // per proposal
inline constexpr size_t kMaxAttributes = 16;      // per transform
inline constexpr size_t kMaxSelectors = 256;      // per TS payload
inline constexpr size_t kMaxCfgAttributes = 256;  // per CP payload

// RFC 7296 §3.1. Next Payload and Length are not stored: encode derives them from
// the payloads and parse checks them.
struct Header {
  uint64_t spi_i = 0;
  uint64_t spi_r = 0;
  uint8_t major_version = 2;
  uint8_t minor_version = 0;
  ExchangeType exchange = ExchangeType::IkeSaInit;
  bool initiator = false;       // I flag: sent by the original initiator of the IKE SA
  bool higher_version = false;  // V flag
  bool response = false;        // R flag
  uint32_t message_id = 0;
  bool operator==(const Header&) const = default;
};

struct Message {
  Header header;
  std::vector<Payload> payloads;  // in wire order; an SK/SKF payload is last
  bool operator==(const Message&) const = default;

  // The first payload of a kind, or nullptr.
  template <class P>
  const P* find() const {
    for (const auto& p : payloads)
      if (const auto* q = std::get_if<P>(&p)) return q;
    return nullptr;
  }
};

// Strict parse of a whole IKEv2 datagram (without the non-ESP marker of port 4500).
Result<Message> parse(ByteView datagram);

// Parse a decrypted SK content: a payload chain starting with `first` that fills `data`
// exactly. `base_offset` is only used in error messages. SK/SKF may not appear inside.
Result<std::vector<Payload>> parse_payloads(PayloadType first, ByteView data,
                                            size_t base_offset = 0);

// Encode. Reserved fields are zero, lengths and Next Payload fields derived. Values must be
// representable (e.g. a traffic selector's start and end of the same family, sizes below
// 64 KiB); what the parser returns always is.
Bytes encode(const Message& message);
// Encode a payload chain, e.g. the plaintext of an SK payload (its first type is
// payload_type(payloads.front())).
Bytes encode_payloads(const std::vector<Payload>& payloads);

// Why a parse failed, in the terms of the Notify the engine should answer with.
// Wire errors keep this in Error::code as (notify type << 8 | payload type).
struct WireFault {
  NotifyType notify = NotifyType::InvalidSyntax;
  PayloadType payload = PayloadType::None;  // for UNSUPPORTED_CRITICAL_PAYLOAD (§3.10.1)
};
WireFault wire_fault(const Error& e);

}  // namespace ipsec::wire
