// SPDX-License-Identifier: Apache-2.0
// IKE SA rekey (RFC 7296 §1.3.2, §2.18): CREATE_CHILD_SA with an IKE proposal, a new key
// exchange and new SPIs; SKEYSEED from the old SK_d. The CHILD SAs and the requests about
// them move to the new IKE SA; the initiator deletes the old one. Simultaneous rekeys:
// §2.8.2, resolved by the nonce rule (busy()).
//   HDR, SK {SA, Ni, KEi}  -->  <--  HDR, SK {SA, Nr, KEr}
#include <algorithm>

#include "common/log.h"
#include "ike/v2/create_child_util.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/sk_message.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;
using wire::NotifyType;

// The new IKE SA of a rekey (§2.18): keys from the old SK_d and the new g^ir.
Result<std::unique_ptr<IkeSa>> rekeyed_ike_sa(Context& ctx, const IkeSa& old, bool initiator,
                                              uint64_t spi_i, uint64_t spi_r,
                                              const wire::Proposal& chosen, Bytes ni, Bytes nr,
                                              const SecretBytes& g_ir) {
  auto algs = ike_algorithms(chosen);
  if (!algs) return fail(algs.error());
  auto fresh = std::make_unique<IkeSa>();
  IkeSa& n = *fresh;
  n.config = old.config;
  n.initiator = initiator;
  n.local = old.local;
  n.remote = old.remote;
  n.spi_i = spi_i;
  n.spi_r = spi_r;
  n.ike_proposal = chosen;
  n.ike_proposal.spi.clear();
  n.algs = *algs;
  n.ke_group = algs->group;
  n.ni = std::move(ni);
  n.nr = std::move(nr);
  n.nat = old.nat;
  n.fragmentation = old.fragmentation;  // RFC 7383 §2.5.1
  n.peer_id = old.peer_id;
  n.next_keepalive = old.next_keepalive;
  n.created = ctx.clock.now();
  auto seed = crypto::rekey_skeyseed(old.algs.prf, old.keys.sk_d, g_ir, n.ni, n.nr);
  if (!seed) return fail(seed.error());
  if (auto r = install_ike_keys(n, *seed); !r) return fail(r.error());
  n.state = IkeState::Established;
  n.established_at = n.created;
  n.last_peer_message = n.created;
  n.replaces = old.local_spi();
  return fresh;
}

// Moves the CHILD SAs (and requests about them) of `old` to the new IKE SA and hands it
// to the engine.
void take_over(Context& ctx, IkeSa& old, std::unique_ptr<IkeSa> fresh) {
  IkeSa& n = *fresh;
  n.children = std::move(old.children);
  old.children.clear();
  for (const auto& q : old.queued)
    if (q.kind == Request::CreateChild || q.kind == Request::RekeyChild ||
        q.kind == Request::DeleteChild)
      n.queued.push_back(q);
  for (const auto& d : old.delayed)
    if (d.request.kind != Request::RekeyIke) n.delayed.push_back(d);
  old.queued.clear();
  old.delayed.clear();
  old.rekeyed_to = n.local_spi();
  old.succession = IkeSa::Succession::Rekeyed;
  old.rekey_at = Millis{0};
  // The initiator deletes the old IKE SA (§2.18); if that never comes, it goes anyway.
  old.expire_at = ctx.clock.now() + Millis(60000);
  arm_ike_lifetime(ctx, n);
  log::info(label(n) + ": IKE SA rekeyed, replaces " + spi_str(old.spi_i) + "/" +
            spi_str(old.spi_r) + ", " + std::to_string(n.children.size()) +
            " CHILD SA(s) moved over");
  if (ctx.engine) {
    EngineEvent e;
    e.kind = EventKind::IkeRekeyed;
    e.old_ike_spi = old.local_spi();
    ctx.engine->emit(n, std::move(e));
  }
  // The requests moved over (a CHILD rekey's Delete of the old CHILD SA, ...) go out on
  // the new IKE SA now: nothing else would send them until its next request.
  send_queued(ctx, n);
  if (ctx.engine) ctx.engine->adopt(std::move(fresh));
}

// Both sides rekeying the IKE SA at once (§2.8.2): the side whose nonce is the lower one
// yields and answers (its own SA would be the redundant one); the other answers
// TEMPORARY_FAILURE. Deterministic, so the two cannot refuse each other forever. Also busy:
// another request of ours in flight, a CHILD SA being negotiated, the SA being replaced.
bool busy(const IkeSa& sa, const wire::NoncePayload* nonce) {
  const bool yield = sa.awaiting_response && sa.in_flight.kind == Request::RekeyIke &&
                     sa.creating && nonce != nullptr && nonce_less(sa.creating->nonce, nonce->data);
  return sa.superseded() || sa.state != IkeState::Established ||
         (sa.awaiting_response && sa.in_flight.kind != Request::Liveness && !yield) ||
         std::any_of(sa.children.begin(), sa.children.end(),
                     [](const ChildSa& c) { return c.state == ChildState::None; });
}

}  // namespace

void respond_ike_rekey(Context& ctx, IkeSa& sa, uint32_t mid,
                       const std::vector<wire::Payload>& in) {
  const auto* sa_payload = find_payload<wire::SaPayload>(in);
  const auto* nonce = find_payload<wire::NoncePayload>(in);
  const auto* ke = find_payload<wire::KePayload>(in);
  if (busy(sa, nonce))
    return respond_create_error(
        ctx, sa, mid, make_notify(NotifyType::TemporaryFailure),
        "an exchange of ours is under way (or the IKE SA is being replaced)");
  if (ke == nullptr)
    return respond_create_error(ctx, sa, mid, make_notify(NotifyType::InvalidSyntax),
                                "IKE rekey without KE");
  const auto mine = to_wire(sa.config->proposals);
  auto chosen = select_proposal(mine, sa_payload->proposals, ke->group);
  if (!chosen || chosen->spi.size() != 8 || !ike_algorithms(*chosen)) {
    ++ctx.counters.no_proposal_chosen;
    return respond_create_error(ctx, sa, mid, make_notify(NotifyType::NoProposalChosen),
                                "peer offered " + describe(sa_payload->proposals));
  }
  const uint16_t group = transform_of(*chosen, wire::TransformType::Dh)->id;
  if (group != ke->group) {
    ++ctx.counters.invalid_ke_sent;
    return respond_create_error(
        ctx, sa, mid,
        make_notify(NotifyType::InvalidKePayload, wire::ProtocolId::None, {}, group_bytes(group)),
        "KE group " + std::to_string(ke->group));
  }
  auto kg = crypto::ke_group_from_id(group);
  auto our_ke = kg ? ctx.random->key_exchange(*kg)
                   : Result<std::unique_ptr<crypto::KeyExchange>>(fail(kg.error()));
  auto nr = ctx.random->nonce();
  auto spi = ctx.engine ? ctx.engine->new_ike_spi() : Result<uint64_t>(fail("no SPI source"));
  if (!our_ke || !nr || !spi) return fail_sa(sa, "IKE rekey: cannot make KE, nonce or SPI");
  auto g_ir = (*our_ke)->shared_secret(ke->data);
  if (!g_ir)
    return respond_create_error(ctx, sa, mid, make_notify(NotifyType::InvalidSyntax),
                                g_ir.error().message);
  const uint64_t peer_spi = spi_value64(chosen->spi);
  auto fresh = rekeyed_ike_sa(ctx, sa, false, peer_spi, *spi, *chosen, nonce->data, *nr, *g_ir);
  if (!fresh) return fail_sa(sa, "IKE rekey: " + fresh.error().message);
  wire::Proposal answer = *chosen;
  answer.spi = spi_bytes(*spi);
  const auto pub = (*our_ke)->public_value();
  std::vector<wire::Payload> out{wire::SaPayload{{answer}}, wire::NoncePayload{*nr},
                                 wire::KePayload{group, Bytes(pub.begin(), pub.end())}};
  if (auto r = send_sk_response(ctx, sa, ExchangeType::CreateChildSa, mid, out); !r)
    return fail_sa(sa, "CREATE_CHILD_SA response: " + r.error().message);
  take_over(ctx, sa, std::move(*fresh));
}

bool build_ike_rekey(Context& ctx, IkeSa& sa, PendingCreate& p,
                     std::vector<wire::Payload>& payloads) {
  p.group = sa.retry_group.value_or(sa.algs.group);
  auto spi = ctx.engine ? ctx.engine->new_ike_spi() : Result<uint64_t>(fail("no SPI source"));
  auto ke = ctx.random->key_exchange(p.group);
  if (!spi || !ke) {
    fail_sa(sa, "IKE rekey: cannot make an SPI or a KE");
    return false;
  }
  p.new_ike_spi = *spi;
  p.ke = std::move(*ke);
  auto proposals = to_wire(sa.config->proposals);
  for (auto& w : proposals) w.spi = spi_bytes(p.new_ike_spi);
  const auto pub = p.ke->public_value();
  payloads = {wire::SaPayload{proposals}, wire::NoncePayload{p.nonce},
              wire::KePayload{static_cast<uint16_t>(p.group), Bytes(pub.begin(), pub.end())}};
  return true;
}

Step process_ike_rekey_response(Context& ctx, IkeSa& sa, PendingCreate& p,
                                const std::vector<wire::Payload>& in) {
  const auto* sa_payload = find_payload<wire::SaPayload>(in);
  const auto* nonce = find_payload<wire::NoncePayload>(in);
  const auto* ke = find_payload<wire::KePayload>(in);
  auto mine = to_wire(sa.config->proposals);
  for (auto& w : mine) w.spi = spi_bytes(p.new_ike_spi);
  auto chosen = select_proposal(mine, sa_payload->proposals,
                                ke ? std::optional<uint16_t>(ke->group) : std::nullopt);
  auto dh = chosen ? transform_of(*chosen, wire::TransformType::Dh) : std::nullopt;
  if (sa_payload->proposals.size() != 1 || !chosen || chosen->spi.size() != 8 || ke == nullptr ||
      !dh || dh->id != ke->group || ke->group != static_cast<uint16_t>(p.group)) {
    log::error(label(sa) + ": IKE SA rekey: peer's answer does not match our offer: " +
               describe(sa_payload->proposals));
    return Step::Failed;
  }
  auto g_ir = p.ke->shared_secret(ke->data);
  if (!g_ir) {
    log::error(label(sa) + ": IKE SA rekey: " + g_ir.error().message);
    return Step::Failed;
  }
  auto fresh = rekeyed_ike_sa(ctx, sa, true, p.new_ike_spi, spi_value64(chosen->spi), *chosen,
                              p.nonce, nonce->data, *g_ir);
  if (!fresh) {
    log::error(label(sa) + ": IKE SA rekey: " + fresh.error().message);
    return Step::Failed;
  }
  if (sa.superseded()) {
    // We yielded to the peer's simultaneous rekey, and the peer answered ours as well:
    // this new IKE SA is the redundant one, and we made it, so we delete it (§2.8.2).
    IkeSa& extra = **fresh;
    extra.rekeyed_to = sa.rekeyed_to;  // no events: it never carried anything
    extra.succession = IkeSa::Succession::Redundant;
    extra.close_reason = "redundant (simultaneous IKE SA rekey)";
    log::info(label(extra) + ": " + extra.close_reason + ", deleting it");
    start_informational(ctx, extra, {Request::DeleteIke, 0});
    if (ctx.engine) ctx.engine->adopt(std::move(*fresh));
    return Step::Done;
  }
  take_over(ctx, sa, std::move(*fresh));
  sa.close_reason = "rekeyed";
  start_informational(ctx, sa, {Request::DeleteIke, 0});
  return Step::Done;
}

}  // namespace ipsec::ike::v2
