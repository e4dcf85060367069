// SPDX-License-Identifier: Apache-2.0
// IKE_SA_INIT (RFC 7296 §1.2): proposals, key exchange, nonces;
// INVALID_KE_PAYLOAD (§1.2, §2.7) and NO_PROPOSAL_CHOSEN; derives the IKE SA
// keys (§2.14).
#include "common/log.h"
#include "crypto/random.h"
#include "ike/v2/contributors.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "wire/names.h"

namespace ipsec::ike::v2 {

using wire::ExchangeType;
using wire::NotifyType;

// §1.2, §2.6: errors to an IKE_SA_INIT request go out without state and SPIr
// zero.
void send_init_notify(Context& ctx, const Endpoint& local, const Endpoint& remote,
                      const wire::Header& req, NotifyType type, Bytes data) {
  wire::Header h = req;
  h.spi_r = 0;
  h.initiator = false;
  h.response = true;
  wire::NotifyPayload n;
  n.type = type;
  n.data = std::move(data);
  ctx.sender.send(local, remote, wire::encode(wire::Message{h, {n}}));
}

Result<uint64_t> random_spi(crypto::RandomSource& random, const SpiShard& shard) {
  for (;;) {
    auto b = random.bytes(8, crypto::RandomUse::Spi);
    if (!b) return fail(b.error());
    uint64_t v = 0;
    for (auto x : *b) v = v << 8 | x;
    v = shard.apply(v);
    if (v != 0) return v;
  }
}

namespace {

std::string algorithms_line(const IkeSa& sa) { return describe(sa.ike_proposal); }

// Checks the responder's choice: one proposal, one of ours, with the group of
// our KE.
std::optional<wire::Proposal> accept_choice(const IkeSa& sa, const wire::SaPayload& sa_payload,
                                            const wire::KePayload& ke) {
  if (sa_payload.proposals.size() != 1) return std::nullopt;
  const auto mine = to_wire(sa.config->proposals);
  auto chosen = select_proposal(mine, sa_payload.proposals, ke.group);
  if (!chosen || !same_transforms(*chosen, sa_payload.proposals.front())) return std::nullopt;
  auto dh = transform_of(*chosen, wire::TransformType::Dh);
  if (!dh || dh->id != ke.group || ke.group != static_cast<uint16_t>(sa.ke_group))
    return std::nullopt;
  return chosen;
}

// §1.2: the responder wants another group; retry once per group we also
// offered.
Step retry_with_group(Context& ctx, IkeSa& sa, const wire::NotifyPayload& n) {
  ++ctx.counters.invalid_ke_received;
  const uint16_t group = n.data.size() == 2 ? static_cast<uint16_t>(n.data[0] << 8 | n.data[1]) : 0;
  bool offered = false;
  for (const auto& p : sa.config->proposals)
    for (auto g : p.dh) offered = offered || static_cast<uint16_t>(g) == group;
  auto kg = crypto::ke_group_from_id(group);
  if (!offered || !kg || *kg == sa.ke_group || ++sa.ke_retries > 3) {
    fail_sa(sa, "IKE_SA_INIT: peer requested key exchange group " +
                    wire::transform_name(wire::TransformType::Dh, group) + ", which we cannot use");
    return Step::Failed;
  }
  log::info(label(sa) + ": INVALID_KE_PAYLOAD, retrying with " + std::string(ke_group_name(*kg)));
  sa.ke_group = *kg;
  sa.next_request_mid = 0;
  if (auto r = start_sa_init(ctx, sa); !r) {
    fail_sa(sa, "IKE_SA_INIT retry: " + r.error().message);
    return Step::Failed;
  }
  return Step::NeedMore;
}

// §2.6: the same request again, the responder's cookie first; a responder that
// keeps asking is given up on.
Step retry_with_cookie(Context& ctx, IkeSa& sa, const wire::NotifyPayload& n) {
  if (n.data.empty() || n.data.size() > 64 || ++sa.cookie_retries > 3) {
    fail_sa(sa, "IKE_SA_INIT: peer keeps requesting a COOKIE (" + std::to_string(n.data.size()) +
                    " bytes)");
    return Step::Failed;
  }
  log::info(label(sa) + ": COOKIE requested, retrying IKE_SA_INIT with it");
  sa.cookie = n.data;
  sa.next_request_mid = 0;
  send_init_request(ctx, sa);
  return sa.awaiting_response ? Step::NeedMore : Step::Failed;
}

Step process_init_error(Context& ctx, IkeSa& sa, const wire::Message& m) {
  for (const auto& p : m.payloads) {
    const auto* n = std::get_if<wire::NotifyPayload>(&p);
    if (n == nullptr) continue;
    if (n->type == NotifyType::InvalidKePayload) return retry_with_group(ctx, sa, *n);
    if (n->type == NotifyType::Cookie) return retry_with_cookie(ctx, sa, *n);
    if (n->is_error()) {
      if (n->type == NotifyType::NoProposalChosen) ++ctx.counters.no_proposal_chosen;
      fail_sa(sa, "IKE_SA_INIT refused by peer: " + wire::notify_name(n->type) +
                      "; we offered: " + describe(to_wire(sa.config->proposals)));
      return Step::Failed;
    }
  }
  fail_sa(sa, "IKE_SA_INIT: response without SA and KE, and no error");
  return Step::Failed;
}

}  // namespace

Result<void> start_sa_init(Context& ctx, IkeSa& sa) {
  auto ke = ctx.random->key_exchange(sa.ke_group);
  auto nonce = ctx.random->nonce();
  if (!ke) return fail(ke.error());
  if (!nonce) return fail(nonce.error());
  sa.ke = std::move(*ke);
  sa.ni = std::move(*nonce);
  send_init_request(ctx, sa);
  return ok();
}

void send_init_request(Context& ctx, IkeSa& sa) {
  const auto pub = sa.ke->public_value();
  wire::Message m{make_header(sa, ExchangeType::IkeSaInit, false, 0), {}};
  if (!sa.cookie.empty()) {
    wire::NotifyPayload cookie;
    cookie.type = NotifyType::Cookie;
    cookie.data = sa.cookie;
    m.payloads.push_back(cookie);  // §2.6: first
  }
  m.payloads.push_back(wire::SaPayload{to_wire(sa.config->proposals)});
  m.payloads.push_back(
      wire::KePayload{static_cast<uint16_t>(sa.ke_group), Bytes(pub.begin(), pub.end())});
  m.payloads.push_back(wire::NoncePayload{sa.ni});
  if (auto r = contribute(ctx, sa, ExchangeType::IkeSaInit, false, m.payloads); !r)
    return fail_sa(sa, "IKE_SA_INIT: " + r.error().message);
  sa.init_request = wire::encode(m);
  sa.state = IkeState::SaInitSent;
  sa.in_flight = {Request::SaInit, 0};
  send_request(ctx, sa, {sa.init_request});
}

namespace {

// §2.7 selection; answers NO_PROPOSAL_CHOSEN or INVALID_KE_PAYLOAD itself.
std::optional<wire::Proposal> choose_ike_proposal(Context& ctx, const ConnectionConfig& config,
                                                  const Endpoint& local, const Endpoint& remote,
                                                  const wire::Message& m) {
  const auto& offered = m.find<wire::SaPayload>()->proposals;
  const auto& ke = *m.find<wire::KePayload>();
  const auto mine = to_wire(config.proposals);
  auto chosen = select_proposal(mine, offered, ke.group);
  if (!chosen || !ike_algorithms(*chosen)) {
    ++ctx.counters.no_proposal_chosen;
    log::warn("IKE_SA_INIT from " + remote.str() + " (" + config.name +
              "): NO_PROPOSAL_CHOSEN; peer offered: " + describe(offered) +
              "; we accept: " + describe(mine));
    send_init_notify(ctx, local, remote, m.header, NotifyType::NoProposalChosen);
    return std::nullopt;
  }
  const uint16_t group = transform_of(*chosen, wire::TransformType::Dh)->id;
  if (group != ke.group) {
    ++ctx.counters.invalid_ke_sent;
    log::info("IKE_SA_INIT from " + remote.str() + ": INVALID_KE_PAYLOAD, KE is " +
              wire::transform_name(wire::TransformType::Dh, ke.group) + ", we want " +
              wire::transform_name(wire::TransformType::Dh, group));
    send_init_notify(ctx, local, remote, m.header, NotifyType::InvalidKePayload,
                     Bytes{static_cast<uint8_t>(group >> 8), static_cast<uint8_t>(group)});
    return std::nullopt;
  }
  return chosen;
}

// Keys first, then what the request carried for the contributors (NAT detection), then
// the response with their payloads.
Result<void> build_responder_sa(Context& ctx, IkeSa& sa, const Inbound& in) {
  const wire::Message& m = in.outer;
  auto spi = random_spi(*ctx.random, ctx.limits.shard);
  auto nonce = ctx.random->nonce();
  auto ke = ctx.random->key_exchange(sa.algs.group);
  if (!spi) return fail(spi.error());
  if (!nonce) return fail(nonce.error());
  if (!ke) return fail(ke.error());
  sa.spi_i = m.header.spi_i;
  sa.spi_r = *spi;
  sa.ni = m.find<wire::NoncePayload>()->data;
  sa.nr = std::move(*nonce);
  sa.ke = std::move(*ke);
  sa.ke_group = sa.algs.group;
  const auto pub = sa.ke->public_value();
  const Bytes pub_copy(pub.begin(), pub.end());
  if (auto r = derive_ike_keys(sa, m.find<wire::KePayload>()->data); !r) return r;
  take_contributions(ctx, sa, in);
  wire::Message resp{
      make_header(sa, ExchangeType::IkeSaInit, true, 0),
      {wire::SaPayload{{sa.ike_proposal}},
       wire::KePayload{static_cast<uint16_t>(sa.algs.group), pub_copy}, wire::NoncePayload{sa.nr}}};
  if (auto r = contribute(ctx, sa, ExchangeType::IkeSaInit, true, resp.payloads); !r) return r;
  sa.init_response = wire::encode(resp);
  return ok();
}

}  // namespace

std::unique_ptr<IkeSa> respond_sa_init(Context& ctx, std::shared_ptr<const ConnectionConfig> config,
                                       const Endpoint& local, const Endpoint& remote,
                                       ByteView datagram, const wire::Message& m) {
  auto chosen = choose_ike_proposal(ctx, *config, local, remote, m);
  if (!chosen) return nullptr;
  auto sa = std::make_unique<IkeSa>();
  sa->config = std::move(config);
  sa->local = local;
  sa->remote = remote;
  sa->ike_proposal = *chosen;
  sa->algs = *ike_algorithms(*chosen);
  sa->init_request.assign(datagram.begin(), datagram.end());
  if (auto r = build_responder_sa(ctx, *sa, Inbound{m, datagram, local, remote, {}}); !r) {
    ++ctx.counters.dropped_malformed;
    log::warn("IKE_SA_INIT from " + remote.str() + " dropped: " + r.error().message);
    return nullptr;
  }
  sa->state = IkeState::SaInitDone;
  sa->created = ctx.clock.now();
  send_response(ctx, *sa, 0, {sa->init_response});
  log::info(label(*sa) + ": IKE_SA_INIT done, " + algorithms_line(*sa));
  return sa;
}

Step process_sa_init_response(Context& ctx, IkeSa& sa, const Inbound& in) {
  const wire::Message& m = in.outer;
  const auto* sa_payload = m.find<wire::SaPayload>();
  const auto* ke = m.find<wire::KePayload>();
  if (sa_payload == nullptr || ke == nullptr) return process_init_error(ctx, sa, m);
  auto chosen = accept_choice(sa, *sa_payload, *ke);
  if (!chosen) {
    ++ctx.counters.no_proposal_chosen;
    fail_sa(sa,
            "IKE_SA_INIT: peer chose what we did not offer: " + describe(sa_payload->proposals) +
                "; we offered: " + describe(to_wire(sa.config->proposals)));
    return Step::Failed;
  }
  sa.ike_proposal = *chosen;
  sa.algs = *ike_algorithms(*chosen);
  sa.spi_r = m.header.spi_r;
  sa.nr = m.find<wire::NoncePayload>()->data;
  sa.init_response.assign(in.datagram.begin(), in.datagram.end());
  if (auto r = derive_ike_keys(sa, ke->data); !r) {
    fail_sa(sa, "IKE_SA_INIT: key derivation: " + r.error().message);
    return Step::Failed;
  }
  log::info(label(sa) + ": IKE_SA_INIT done, " + algorithms_line(sa));
  take_contributions(ctx, sa, in);
  // IKE_AUTH is the next task, ahead of anything queued meanwhile.
  sa.queued.insert(sa.queued.begin(), QueuedRequest{Request::Auth, 0});
  return Step::Done;
}

}  // namespace ipsec::ike::v2
