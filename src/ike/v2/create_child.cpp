// SPDX-License-Identifier: Apache-2.0
// CREATE_CHILD_SA (RFC 7296 §1.3) for CHILD SAs: another CHILD SA, a CHILD SA rekey with or
// without a new key exchange (PFS); the IKE SA rekey is in ike_rekey.cpp. Make-before-break: the
// initiator of a CHILD SA rekey installs both new SAs when the response arrives (the kernel sends
// on the newest outbound SA at once) and then deletes the old pair; the responder installs the new
// inbound SA when it answers and the new outbound SA when the old pair is deleted, so that neither
// side sends on an SA the other cannot receive yet. Simultaneous rekeys of one CHILD SA: the nonce
// rule of §2.8.1. A rekey of an IKE SA that has a request of ours in flight, and a rekey of a CHILD
// SA being deleted, are answered with TEMPORARY_FAILURE (§2.25); the side that gets it tries again
// after a random delay.
#include <algorithm>

#include "common/log.h"
#include "ike/traffic_selectors.h"
#include "ike/v2/child_negotiation.h"
#include "ike/v2/create_child_util.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/sk_message.h"
#include "wire/names.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;
using wire::NotifyType;

std::optional<crypto::KeGroup> pfs_group(const ChildConfig& cc) {
  for (const auto& p : cc.proposals)
    for (auto g : p.dh)
      if (auto kg = crypto::ke_group_from_id(static_cast<uint16_t>(g))) return *kg;
  return std::nullopt;
}

wire::KePayload ke_payload(const crypto::KeyExchange& ke) {
  const auto pub = ke.public_value();
  return wire::KePayload{static_cast<uint16_t>(ke.group()), Bytes(pub.begin(), pub.end())};
}

// The request's payloads of a new CHILD SA or a CHILD SA rekey (SPI, nonce, PFS key
// exchange in `p`); false: nothing to send (the CHILD SA to rekey is gone, or no SPI).
bool build_child_request(Context& ctx, IkeSa& sa, QueuedRequest request, PendingCreate& p,
                         std::vector<wire::Payload>& payloads) {
  ChildSa* old = nullptr;
  if (request.kind == Request::RekeyChild) {
    old = sa.child(request.child_spi);
    if (old == nullptr || old->state != ChildState::Installed || old->replaced_by != 0) {
      log::debug(label(sa) + ": rekey of CHILD SA " + esp_spi_str(request.child_spi) +
                 " dropped: no longer installed");
      return false;
    }
    p.old_spi = old->spi_in;
  }
  // A rekey keeps its child; a new CHILD SA is of the child asked for (default: first).
  p.child = old ? old->cfg : request.child ? request.child : &sa.config->children.front();
  const ChildConfig& cc = *p.child;
  auto spi = alloc_inbound_spi(ctx, sa, cc);
  if (!spi) {
    log::error(label(sa) + ": CREATE_CHILD_SA: " + spi.error().message);
    return false;
  }
  p.new_spi_in = *spi;
  if (auto g = pfs_group(cc)) {
    p.group = sa.retry_group.value_or(*g);
    auto ke = ctx.random->key_exchange(p.group);
    if (!ke) {
      fail_sa(sa, "CREATE_CHILD_SA: " + ke.error().message);
      return false;
    }
    p.ke = std::move(*ke);
  }
  if (old) {
    payloads.push_back(
        make_notify(NotifyType::RekeySa, wire::ProtocolId::Esp, esp_spi_bytes(old->spi_in)));
    old->state = ChildState::Rekeying;
  }
  const bool transport = old ? old->transport : cc.mode == kernel::Mode::Transport;
  if (transport) payloads.push_back(make_notify(NotifyType::UseTransportMode));
  payloads.push_back(wire::SaPayload{to_wire(cc.proposals, esp_spi_bytes(p.new_spi_in), true)});
  payloads.push_back(wire::NoncePayload{p.nonce});
  if (p.ke) payloads.push_back(ke_payload(*p.ke));
  payloads.push_back(wire::TsIPayload{old ? old->local_ts : to_ts(cc.local_ts)});
  payloads.push_back(wire::TsRPayload{old ? old->remote_ts : to_ts(cc.remote_ts)});
  return true;
}

std::string request_text(const PendingCreate& p, QueuedRequest request) {
  std::string what = request.kind == Request::RekeyIke ? "IKE SA rekey"
                     : request.kind == Request::RekeyChild
                         ? "rekey of CHILD SA " + esp_spi_str(request.child_spi)
                         : "new CHILD SA";
  if (p.ke) what += ", KE " + std::string(ke_group_name(p.group));
  return what;
}

}  // namespace

void send_create(Context& ctx, IkeSa& sa, QueuedRequest request) {
  if (sa.state != IkeState::Established || sa.superseded()) return;
  PendingCreate p;
  p.kind = request.kind;
  auto nonce = ctx.random->nonce();
  if (!nonce) return fail_sa(sa, "CREATE_CHILD_SA: " + nonce.error().message);
  p.nonce = std::move(*nonce);
  std::vector<wire::Payload> payloads;
  const bool built = request.kind == Request::RekeyIke
                         ? build_ike_rekey(ctx, sa, p, payloads)
                         : build_child_request(ctx, sa, request, p, payloads);
  if (!built) return;
  const std::string what = request_text(p, request);
  sa.retry_group.reset();
  sa.creating = std::move(p);
  sa.in_flight = request;
  if (auto r = send_sk_request(ctx, sa, ExchangeType::CreateChildSa, payloads); !r)
    return fail_sa(sa, "CREATE_CHILD_SA request: " + r.error().message);
  log::info(label(sa) + ": CREATE_CHILD_SA request sent: " + what);
}

namespace {

// The responder's half of a PFS key exchange (§1.3.1), when the chosen proposal has one.
struct Pfs {
  std::unique_ptr<crypto::KeyExchange> ke;
  std::optional<SecretBytes> g_ir;
  bool refused = false;  // answered with an error
};

Pfs responder_pfs(Context& ctx, IkeSa& sa, uint32_t mid, const wire::Proposal& chosen,
                  const wire::KePayload* ke) {
  Pfs out;
  auto dh = transform_of(chosen, wire::TransformType::Dh);
  if (!dh) return out;
  out.refused = true;
  if (ke == nullptr || ke->group != dh->id) {
    ++ctx.counters.invalid_ke_sent;
    respond_create_error(
        ctx, sa, mid,
        make_notify(NotifyType::InvalidKePayload, wire::ProtocolId::None, {}, group_bytes(dh->id)),
        "PFS group wanted: " + std::to_string(dh->id));
    return out;
  }
  auto kg = crypto::ke_group_from_id(dh->id);
  if (!kg) {
    respond_create_error(ctx, sa, mid, make_notify(NotifyType::NoProposalChosen),
                         kg.error().message);
    return out;
  }
  auto k = ctx.random->key_exchange(*kg);
  if (!k) {
    fail_sa(sa, "CREATE_CHILD_SA: " + k.error().message);
    return out;
  }
  auto s = (*k)->shared_secret(ke->data);
  if (!s) {
    respond_create_error(ctx, sa, mid, make_notify(NotifyType::InvalidSyntax), s.error().message);
    return out;
  }
  out.ke = std::move(*k);
  out.g_ir = std::move(*s);
  out.refused = false;
  return out;
}

// Installs the negotiated CHILD SA (a rekey's outbound SA later, make-before-break) and
// answers {SA, Nr, [KEr], TSi, TSr}.
void install_and_answer(Context& ctx, IkeSa& sa, uint32_t mid, size_t target,
                        const ChildChoice& choice, bool transport, ByteView ni, Pfs& pfs) {
  auto nr = ctx.random->nonce();
  if (!nr) return fail_sa(sa, "CREATE_CHILD_SA: " + nr.error().message);
  ChildSa c;
  c.cfg = choice.cfg;
  c.proposal = choice.proposal;
  c.spi_out = esp_spi_value(choice.proposal.spi);
  c.transport = transport;
  c.remote_ts = choice.ts_i;
  c.local_ts = choice.ts_r;
  const bool rekey = target != sa.children.size();
  if (rekey) c.replaces = sa.children[target].spi_in;
  c.announce_later = rekey && sa.children[target].state == ChildState::Rekeying;
  auto spi = alloc_inbound_spi(ctx, sa, *c.cfg);
  if (!spi)
    return respond_create_error(ctx, sa, mid, make_notify(NotifyType::NoAdditionalSas),
                                spi.error().message);
  c.spi_in = *spi;
  const SecretBytes* g_ir = pfs.g_ir ? &*pfs.g_ir : nullptr;
  if (auto r = install_child(ctx, sa, c, {ni, *nr, g_ir, false}, rekey); !r) {
    release_child_spi(ctx, sa, c);
    return respond_create_error(ctx, sa, mid, make_notify(NotifyType::NoAdditionalSas),
                                r.error().message);
  }
  if (rekey) {
    ChildSa& t = sa.children[target];
    t.replaced_by = c.spi_in;
    if (t.state == ChildState::Rekeying) {  // §2.8.1: ours is in flight too
      t.collision_ni.assign(ni.begin(), ni.end());
      t.collision_nr = *nr;
    }
  }
  std::vector<wire::Payload> out;
  if (transport) out.push_back(make_notify(NotifyType::UseTransportMode));
  wire::Proposal answer = choice.proposal;
  answer.spi = esp_spi_bytes(c.spi_in);
  out.push_back(wire::SaPayload{{answer}});
  out.push_back(wire::NoncePayload{*nr});
  if (pfs.ke) out.push_back(ke_payload(*pfs.ke));
  out.push_back(wire::TsIPayload{choice.ts_i});
  out.push_back(wire::TsRPayload{choice.ts_r});
  sa.children.push_back(std::move(c));
  if (auto r = send_sk_response(ctx, sa, ExchangeType::CreateChildSa, mid, out); !r)
    fail_sa(sa, "CREATE_CHILD_SA response: " + r.error().message);
}

}  // namespace

void respond_create_child(Context& ctx, IkeSa& sa, const Inbound& in) {
  const auto& inner = in.inner;
  const uint32_t mid = in.message_id();
  const auto* sa_payload = find_payload<wire::SaPayload>(inner);
  const auto* nonce = find_payload<wire::NoncePayload>(inner);
  const auto* ke = find_payload<wire::KePayload>(inner);
  if (sa.state != IkeState::Established)
    return respond_create_error(ctx, sa, mid, make_notify(NotifyType::TemporaryFailure),
                                "the IKE SA is being deleted");
  if (!sa_payload->proposals.empty() &&
      sa_payload->proposals.front().protocol == wire::ProtocolId::Ike)
    return respond_ike_rekey(ctx, sa, mid, inner);
  const auto* tsi = find_payload<wire::TsIPayload>(inner);
  const auto* tsr = find_payload<wire::TsRPayload>(inner);
  if (tsi == nullptr || tsr == nullptr)
    return respond_create_error(ctx, sa, mid, make_notify(NotifyType::InvalidSyntax), "no TSi/TSr");
  const auto target = rekey_target(ctx, sa, mid, inner);
  if (!target) return;
  const bool transport = has_notify(inner, NotifyType::UseTransportMode);
  const ChildConfig* only = *target != sa.children.size() ? sa.children[*target].cfg : nullptr;
  const ChildChoice choice =
      choose_child(*sa.config,
                   {sa_payload->proposals, tsi->selectors, tsr->selectors, transport, false,
                    ke ? std::optional<uint16_t>(ke->group) : std::nullopt},
                   only);
  if (!choice) {
    if (choice.error == NotifyType::TsUnacceptable)
      ++ctx.counters.ts_unacceptable;
    else
      ++ctx.counters.no_proposal_chosen;
    return respond_create_error(ctx, sa, mid, make_notify(choice.error), choice.why);
  }
  Pfs pfs = responder_pfs(ctx, sa, mid, choice.proposal, ke);
  if (pfs.refused) return;
  install_and_answer(ctx, sa, mid, *target, choice, transport, nonce->data, pfs);
}

namespace {

void child_request_failed(Context& ctx, IkeSa& sa, PendingCreate& p, const std::string& why) {
  ChildSa spare;
  spare.spi_in = p.new_spi_in;
  release_child_spi(ctx, sa, spare);
  if (ChildSa* old = sa.child(p.old_spi); old && old->state == ChildState::Rekeying)
    old->state = ChildState::Installed;
  // Ours failed: a rekey of the same CHILD SA by the peer that we answered stands.
  if (ChildSa* old = sa.child(p.old_spi); old && old->replaced_by != 0)
    if (ChildSa* theirs = sa.child(old->replaced_by); theirs && theirs->announce_later)
      announce_child(ctx, sa, *theirs);
  log::error(label(sa) + ": CREATE_CHILD_SA failed: " + why);
}

// Initiator: the responder's choice checked against our offer, and the PFS secret; nullopt:
// refused (already logged, the CHILD SA's deletion asked).
struct Accepted {
  ChildAnswer answer;
  std::optional<SecretBytes> g_ir;
};

std::optional<Accepted> accept_answer(Context& ctx, IkeSa& sa, PendingCreate& p,
                                      const std::vector<wire::Payload>& in) {
  const auto* ke = find_payload<wire::KePayload>(in);
  auto refuse = [&](const std::string& why) -> std::optional<Accepted> {
    child_request_failed(ctx, sa, p, why);
    start_informational(ctx, sa, {Request::DeleteChild, p.new_spi_in});
    return std::nullopt;
  };
  ChildAnswer answer = check_child_answer(*p.child, p.new_spi_in, true, in);
  if (!answer && find_payload<wire::SaPayload>(in) == nullptr) {  // the peer made none
    child_request_failed(ctx, sa, p, answer.why);
    return std::nullopt;
  }
  if (!answer) return refuse(answer.why);
  Accepted out{std::move(answer), std::nullopt};
  if (auto dh = transform_of(out.answer.proposal, wire::TransformType::Dh)) {
    if (!p.ke || ke == nullptr || ke->group != dh->id || dh->id != static_cast<uint16_t>(p.group))
      return refuse("peer's KE does not match our PFS group");
    auto s = p.ke->shared_secret(ke->data);
    if (!s) return refuse(s.error().message);
    out.g_ir = std::move(*s);
  }
  return out;
}

void process_child_response(Context& ctx, IkeSa& sa, PendingCreate& p,
                            const std::vector<wire::Payload>& in) {
  const auto* nonce = find_payload<wire::NoncePayload>(in);
  auto accepted = accept_answer(ctx, sa, p, in);
  if (!accepted) return;
  ChildSa c;
  c.cfg = p.child;
  c.spi_in = p.new_spi_in;
  c.proposal = std::move(accepted->answer.proposal);
  c.spi_out = esp_spi_value(c.proposal.spi);
  c.transport = accepted->answer.transport;
  c.local_ts = std::move(accepted->answer.local_ts);
  c.remote_ts = std::move(accepted->answer.remote_ts);
  ChildSa* old = sa.child(p.old_spi);
  if (old && !child_in_kernel(*old)) old = nullptr;  // deleted meanwhile: a new CHILD SA
  const bool won = !(old && !old->collision_ni.empty()) || won_collision(sa, *old, p, nonce->data);
  if (old && won) c.replaces = old->spi_in;
  c.redundant = !won;
  // A redundant SA never carries our traffic: its outbound half stays out of the kernel.
  const SecretBytes* g_ir = accepted->g_ir ? &*accepted->g_ir : nullptr;
  if (auto r = install_child(ctx, sa, c, {p.nonce, nonce->data, g_ir, true}, !won); !r) {
    child_request_failed(ctx, sa, p, r.error().message);
    return start_informational(ctx, sa, {Request::DeleteChild, p.new_spi_in});
  }
  const uint32_t old_spi = old ? old->spi_in : 0, peer_new = old ? old->replaced_by : 0;
  const uint32_t new_spi = c.spi_in;
  sa.children.push_back(std::move(c));
  settle_rekey(ctx, sa, new_spi, old_spi, peer_new, won);
}

void process_error(Context& ctx, IkeSa& sa, PendingCreate& p, QueuedRequest done,
                   const wire::NotifyPayload& err) {
  const bool ike = p.kind == Request::RekeyIke;
  if (err.type == NotifyType::InvalidKePayload && err.data.size() == 2 && ++p.ke_retries <= 2) {
    const uint16_t g = static_cast<uint16_t>(err.data[0] << 8 | err.data[1]);
    auto kg = crypto::ke_group_from_id(g);
    const bool ours =
        ike ? offered_group(sa.config->proposals, g) : offered_group(p.child->proposals, g);
    if (kg && ours) {
      ++ctx.counters.invalid_ke_received;
      if (!ike)
        child_request_failed(ctx, sa, p,
                             "INVALID_KE_PAYLOAD, retrying with group " + std::to_string(g));
      sa.retry_group = *kg;
      sa.queued.insert(sa.queued.begin(), done);
      return;
    }
  }
  if (!ike)
    child_request_failed(ctx, sa, p, wire::notify_name(err.type));
  else
    log::error(label(sa) + ": IKE SA rekey refused: " + wire::notify_name(err.type));
  if (err.type == NotifyType::TemporaryFailure) {
    // A rekey the peer made of the same CHILD SA stands: nothing to try again.
    const ChildSa* old = sa.child(p.old_spi);
    if (p.kind == Request::RekeyChild && old && old->replaced_by != 0) return;
    postpone(ctx, sa, done);
    return;
  }
  if (err.type == NotifyType::ChildSaNotFound && p.kind == Request::RekeyChild) {
    // The peer no longer has it: ours goes too, and a fresh CHILD SA replaces it.
    if (ChildSa* old = sa.child(p.old_spi)) remove_child(ctx, sa, *old, "unknown to the peer");
    forget_deleted_children(sa);
    enqueue(ctx, sa, {Request::CreateChild, 0, p.child});
  }
}

}  // namespace

Step process_create_child_response(Context& ctx, IkeSa& sa, const Inbound& in) {
  const auto& inner = in.inner;
  if (!sa.creating) return Step::Done;
  PendingCreate p = std::move(*sa.creating);
  sa.creating.reset();
  const QueuedRequest done = sa.in_flight;
  if (const auto* err = find_error(inner)) {
    process_error(ctx, sa, p, done, *err);
    return Step::Failed;
  }
  const auto* sa_payload = find_payload<wire::SaPayload>(inner);
  const auto* nonce = find_payload<wire::NoncePayload>(inner);
  if (sa_payload == nullptr || nonce == nullptr) {
    if (p.kind != Request::RekeyIke) child_request_failed(ctx, sa, p, "response without SA or Nr");
    return Step::Failed;
  }
  if (p.kind == Request::RekeyIke) return process_ike_rekey_response(ctx, sa, p, inner);
  process_child_response(ctx, sa, p, inner);
  forget_deleted_children(sa);
  return Step::Done;
}

}  // namespace ipsec::ike::v2
