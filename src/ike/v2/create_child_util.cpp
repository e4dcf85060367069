// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the CREATE_CHILD_SA files.
#include "ike/v2/create_child_util.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "ike/v2/exchanges.h"
#include "wire/names.h"

namespace ipsec::ike::v2 {

wire::NotifyPayload make_notify(wire::NotifyType t, wire::ProtocolId proto, Bytes spi, Bytes data) {
  wire::NotifyPayload n;
  n.type = t;
  n.protocol = proto;
  n.spi = std::move(spi);
  n.data = std::move(data);
  return n;
}

Bytes group_bytes(uint16_t g) {
  return Bytes{static_cast<uint8_t>(g >> 8), static_cast<uint8_t>(g)};
}

uint64_t spi_value64(ByteView b) {
  uint64_t v = 0;
  for (auto x : b) v = v << 8 | x;
  return v;
}

bool nonce_less(ByteView a, ByteView b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c < 0 || (c == 0 && a.size() < b.size());
}

namespace {

template <class Proposals>
bool offered(const Proposals& ps, uint16_t g) {
  for (const auto& p : ps)
    for (auto d : p.dh)
      if (static_cast<uint16_t>(d) == g) return true;
  return false;
}

}  // namespace

bool offered_group(const std::vector<IkeProposalConfig>& ps, uint16_t g) { return offered(ps, g); }
bool offered_group(const std::vector<EspProposalConfig>& ps, uint16_t g) { return offered(ps, g); }

void respond_create_error(Context& ctx, IkeSa& sa, uint32_t mid, wire::NotifyPayload n,
                          const std::string& why) {
  log::info(label(sa) + ": CREATE_CHILD_SA refused with " + wire::notify_name(n.type) + ": " + why);
  if (auto r = send_sk_response(ctx, sa, wire::ExchangeType::CreateChildSa, mid, {n}); !r)
    fail_sa(sa, "CREATE_CHILD_SA response: " + r.error().message);
}

}  // namespace ipsec::ike::v2
