// SPDX-License-Identifier: Apache-2.0
// SK payload protection of whole messages.
#include "ike/v2/sk_message.h"

#include <algorithm>

namespace ipsec::ike::v2 {

Result<Bytes> seal_message(const wire::Header& header, const std::vector<wire::Payload>& inner,
                           crypto::SkCipher& cipher) {
  const Bytes plain = wire::encode_payloads(inner);
  const size_t sealed_size = cipher.sealed_size(plain.size());
  const auto first = inner.empty() ? wire::PayloadType::None : wire::payload_type(inner.front());
  // Encode with a placeholder body so every length field is final, then seal
  // over the bytes up to the end of the SK generic header.
  Bytes out = wire::encode(wire::Message{header, {wire::SkPayload{first, Bytes(sealed_size)}}});
  const size_t aad_size = out.size() - sealed_size;
  auto sealed = cipher.seal(ByteView(out).first(aad_size), plain);
  if (!sealed) return fail(sealed.error());
  if (sealed->size() != sealed_size) return fail("SK payload: sealed size mismatch");
  std::copy(sealed->begin(), sealed->end(), out.begin() + static_cast<long>(aad_size));
  return out;
}

const wire::NotifyPayload* find_error(const std::vector<wire::Payload>& payloads) {
  for (const auto& p : payloads)
    if (const auto* n = std::get_if<wire::NotifyPayload>(&p); n && n->is_error()) return n;
  return nullptr;
}

const wire::NotifyPayload* find_notify(const std::vector<wire::Payload>& payloads,
                                       wire::NotifyType type) {
  for (const auto& p : payloads)
    if (const auto* n = std::get_if<wire::NotifyPayload>(&p); n && n->type == type) return n;
  return nullptr;
}

}  // namespace ipsec::ike::v2
