// SPDX-License-Identifier: Apache-2.0
// SK payload protection of whole messages.
#include "ike/v2/sk_message.h"

#include "ike/v2/fragments.h"

namespace ipsec::ike::v2 {

Result<Bytes> seal_message(const wire::Header& header, const std::vector<wire::Payload>& inner,
                           crypto::SkCipher& cipher) {
  auto one = seal_fragments(header, inner, cipher, 0);
  if (!one) return fail(one.error());
  return std::move(one->front());
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
