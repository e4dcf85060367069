// SPDX-License-Identifier: Apache-2.0
// The table of payload contributors (contributors.h), in the order their payloads go out.
#include "ike/v2/contributors.h"

#include "ike/v2/create_child_util.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "ike/v2/sk_message.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;
using wire::NotifyType;

struct Contributor {
  const char* name;
  ExchangeType exchange;
  Result<void> (*add)(Context& ctx, const IkeSa& sa, bool response,
                      std::vector<wire::Payload>& out);
  void (*take)(Context& ctx, IkeSa& sa, const Inbound& in);
};

// §2.23: N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP). In our request when
// NAT-T is on (SPIr zero in the hashes); in our response when the peer's request had them.
Result<void> add_natd(Context& ctx, const IkeSa& sa, bool response,
                      std::vector<wire::Payload>& out) {
  if (ctx.nat.port == 0 || (response && !sa.nat.detection)) return ok();
  auto natd = natd_payloads(sa, response ? sa.spi_r : 0);
  if (!natd) return fail(natd.error());
  out.insert(out.end(), natd->begin(), natd->end());
  return ok();
}

// The initiator moves to the NAT-T port when a NAT is in the way (§2.23).
void take_natd(Context& ctx, IkeSa& sa, const Inbound& in) {
  apply_natd(ctx, sa, check_natd(ctx, in.outer, in.local, in.remote));
  if (in.header().response) float_to_natt_port(ctx, sa);
}

// §2.4: we have no other IKE SA with this peer, so it may drop what it holds of ours.
Result<void> add_initial_contact(Context&, const IkeSa& sa, bool response,
                                 std::vector<wire::Payload>& out) {
  if (!response && sa.initial_contact) out.push_back(make_notify(NotifyType::InitialContact));
  return ok();
}

void take_initial_contact(Context& ctx, IkeSa& sa, const Inbound& in) {
  if (in.header().response || !has_notify(in.inner, NotifyType::InitialContact)) return;
  sa.initial_contact = true;
  if (ctx.engine) ctx.engine->initial_contact(sa);
}

const Contributor kContributors[] = {
    {"NAT detection", ExchangeType::IkeSaInit, add_natd, take_natd},
    {"INITIAL_CONTACT", ExchangeType::IkeAuth, add_initial_contact, take_initial_contact},
};

}  // namespace

Result<void> contribute(Context& ctx, const IkeSa& sa, ExchangeType exchange, bool response,
                        std::vector<wire::Payload>& payloads) {
  for (const auto& c : kContributors) {
    if (c.exchange != exchange) continue;
    if (auto r = c.add(ctx, sa, response, payloads); !r)
      return fail(std::string(c.name) + ": " + r.error().message);
  }
  return ok();
}

void take_contributions(Context& ctx, IkeSa& sa, const Inbound& in) {
  for (const auto& c : kContributors)
    if (c.exchange == in.header().exchange) c.take(ctx, sa, in);
}

}  // namespace ipsec::ike::v2
