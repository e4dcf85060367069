// SPDX-License-Identifier: Apache-2.0
// The encrypted envelope (RFC 7296 §3.14, RFC 5282 §5.1): inner payloads in and
// out of an SK payload, with the IKE header and SK generic header as associated
// data. Opening one is the engine's receive path (receive.cpp, Engine::open).
#pragma once

#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/sk_cipher.h"
#include "wire/message.h"

namespace ipsec::ike::v2 {

// The whole datagram: header, SK generic header, IV | ciphertext | ICV.
Result<Bytes> seal_message(const wire::Header& header, const std::vector<wire::Payload>& inner,
                           crypto::SkCipher& cipher);

// The first payload of a kind in a list, or nullptr.
template <class P>
const P* find_payload(const std::vector<wire::Payload>& payloads) {
  for (const auto& p : payloads)
    if (const auto* q = std::get_if<P>(&p)) return q;
  return nullptr;
}

// The first error Notify, or nullptr.
const wire::NotifyPayload* find_error(const std::vector<wire::Payload>& payloads);
// The first Notify of a type, or nullptr.
const wire::NotifyPayload* find_notify(const std::vector<wire::Payload>& payloads,
                                       wire::NotifyType type);
inline bool has_notify(const std::vector<wire::Payload>& payloads, wire::NotifyType type) {
  return find_notify(payloads, type) != nullptr;
}

}  // namespace ipsec::ike::v2
