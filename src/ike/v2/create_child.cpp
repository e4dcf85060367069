// CREATE_CHILD_SA (RFC 7296 §1.3): another CHILD SA, a CHILD SA rekey with or without a
// new key exchange (PFS), an IKE SA rekey (§2.18). Make-before-break: the initiator of a
// CHILD SA rekey installs both new SAs when the response arrives (the kernel sends on
// the newest outbound SA at once) and then deletes the old pair; the responder installs
// the new inbound SA when it answers and the new outbound SA when the old pair is deleted,
// so that neither side sends on an SA the other cannot receive yet. Simultaneous rekeys
// of one CHILD SA: the nonce rule of §2.8.1. A rekey of an IKE SA that has a request of
// ours in flight, and a rekey of a CHILD SA being deleted, are answered with
// TEMPORARY_FAILURE (§2.25); the side that gets it tries again after a random delay.
#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "crypto/random.h"
#include "ike/v2/child_negotiation.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "ike/v2/sk_message.h"
#include "ike/traffic_selectors.h"
#include "wire/names.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;
using wire::NotifyType;

wire::NotifyPayload notify(NotifyType t, wire::ProtocolId proto = wire::ProtocolId::None,
                           Bytes spi = {}, Bytes data = {}) {
  wire::NotifyPayload n;
  n.type = t;
  n.protocol = proto;
  n.spi = std::move(spi);
  n.data = std::move(data);
  return n;
}

Bytes group_bytes(uint16_t g) { return Bytes{static_cast<uint8_t>(g >> 8), static_cast<uint8_t>(g)}; }

uint64_t spi_value64(ByteView b) {
  uint64_t v = 0;
  for (auto x : b) v = v << 8 | x;
  return v;
}

std::optional<crypto::KeGroup> pfs_group(const ChildConfig &cc) {
  for (const auto &p : cc.proposals)
    for (auto g : p.dh)
      if (auto kg = crypto::ke_group_from_id(static_cast<uint16_t>(g))) return *kg;
  return std::nullopt;
}

bool offered_group(const std::vector<EspProposalConfig> &ps, uint16_t g) {
  for (const auto &p : ps)
    for (auto d : p.dh)
      if (static_cast<uint16_t>(d) == g) return true;
  return false;
}

bool offered_group(const std::vector<IkeProposalConfig> &ps, uint16_t g) {
  for (const auto &p : ps)
    for (auto d : p.dh)
      if (static_cast<uint16_t>(d) == g) return true;
  return false;
}

// Lexicographic, shorter first on a common prefix (as strongSwan compares nonces).
bool nonce_less(ByteView a, ByteView b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c < 0 || (c == 0 && a.size() < b.size());
}

ByteView lowest(std::initializer_list<ByteView> list) {
  ByteView low = *list.begin();
  for (ByteView v : list)
    if (nonce_less(v, low)) low = v;
  return low;
}

// The new IKE SA of a rekey (§2.18): keys from the old SK_d and the new g^ir.
Result<std::unique_ptr<IkeSa>> rekeyed_ike_sa(Context &ctx, const IkeSa &old, bool initiator,
                                              uint64_t spi_i, uint64_t spi_r,
                                              const wire::Proposal &chosen, Bytes ni, Bytes nr,
                                              const SecretBytes &g_ir) {
  auto algs = ike_algorithms(chosen);
  if (!algs) return fail(algs.error());
  auto fresh = std::make_unique<IkeSa>();
  IkeSa &n = *fresh;
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
  n.peer_id = old.peer_id;
  n.next_keepalive = old.next_keepalive;
  n.created = ctx.clock.now();
  auto seed = crypto::rekey_skeyseed(old.algs.prf, old.keys.sk_d, g_ir, n.ni, n.nr);
  if (!seed) return fail(seed.error());
  const Bytes si = spi_bytes(n.spi_i), sr = spi_bytes(n.spi_r);
  const crypto::IkeKeyLengths len{crypto::sk_encr_key_size(n.algs.sk),
                                  crypto::sk_integ_key_size(n.algs.sk.integ)};
  auto keys = crypto::derive_ike_sa_keys(n.algs.prf, *seed, {n.ni, n.nr, si, sr}, len);
  if (!keys) return fail(keys.error());
  n.keys = std::move(*keys);
  const auto &k = n.keys;
  auto out = crypto::make_sk_cipher(n.algs.sk, initiator ? k.sk_ei : k.sk_er,
                                    initiator ? k.sk_ai : k.sk_ar);
  auto in = crypto::make_sk_cipher(n.algs.sk, initiator ? k.sk_er : k.sk_ei,
                                   initiator ? k.sk_ar : k.sk_ai);
  if (!out) return fail(out.error());
  if (!in) return fail(in.error());
  n.out_cipher = std::move(*out);
  n.in_cipher = std::move(*in);
  n.state = IkeState::Established;
  n.established_at = n.created;
  n.last_peer_message = n.created;
  n.replaces = old.local_spi();
  return fresh;
}

// Moves the CHILD SAs (and requests about them) of `old` to the new IKE SA and hands it
// to the engine.
void take_over(Context &ctx, IkeSa &old, std::unique_ptr<IkeSa> fresh) {
  IkeSa &n = *fresh;
  n.children = std::move(old.children);
  old.children.clear();
  for (const auto &q : old.queued)
    if (q.kind == Request::CreateChild || q.kind == Request::RekeyChild ||
        q.kind == Request::DeleteChild)
      n.queued.push_back(q);
  for (const auto &d : old.delayed)
    if (d.request.kind != Request::RekeyIke) n.delayed.push_back(d);
  old.queued.clear();
  old.delayed.clear();
  old.rekeyed_to = n.local_spi();
  old.rekey_at = Millis{0};
  // The initiator deletes the old IKE SA (§2.18); if that never comes, it goes anyway.
  old.expire_at = ctx.clock.now() + Millis(60000);
  arm_ike_lifetime(ctx, n);
  log::info(label(n) + ": IKE SA rekeyed, replaces " + spi_str(old.spi_i) + "/" +
            spi_str(old.spi_r) + ", " + std::to_string(n.children.size()) +
            " CHILD SA(s) moved over");
  if (ctx.emit) {
    EngineEvent e;
    e.kind = EventKind::IkeRekeyed;
    e.old_ike_spi = old.local_spi();
    ctx.emit(n, std::move(e));
  }
  // The requests moved over (a CHILD rekey's Delete of the old CHILD SA, ...) go out on
  // the new IKE SA now: nothing else would send them until its next request.
  send_queued(ctx, n);
  if (ctx.adopt) ctx.adopt(std::move(fresh));
}

void respond_error(Context &ctx, IkeSa &sa, uint32_t mid, wire::NotifyPayload n,
                   const std::string &why) {
  log::info(label(sa) + ": CREATE_CHILD_SA refused with " + wire::notify_name(n.type) + ": " +
            why);
  if (auto r = send_sk_response(ctx, sa, ExchangeType::CreateChildSa, mid, {n}); !r)
    fail_sa(sa, "CREATE_CHILD_SA response: " + r.error().message);
}

// A CHILD SA that is already replaced, or whose Delete is queued or in flight: a rekey of
// it is refused with TEMPORARY_FAILURE (§2.25).
bool being_replaced(const IkeSa &sa, const ChildSa &t) {
  bool deleting = t.state == ChildState::Rekeyed || t.replaced_by != 0;
  for (const auto &q : sa.queued)
    deleting = deleting || (q.kind == Request::DeleteChild && q.child_spi == t.spi_in);
  return deleting || (sa.awaiting_response && sa.in_flight.kind == Request::DeleteChild &&
                      sa.in_flight.child_spi == t.spi_in);
}

void respond_ike_rekey(Context &ctx, IkeSa &sa, uint32_t mid, const std::vector<wire::Payload> &in) {
  const auto *sa_payload = find_payload<wire::SaPayload>(in);
  const auto *nonce = find_payload<wire::NoncePayload>(in);
  const auto *ke = find_payload<wire::KePayload>(in);
  // Both sides rekeying the IKE SA at once (§2.8.2): the side whose nonce is the lower
  // one yields and answers (its own SA would be the redundant one); the other answers
  // TEMPORARY_FAILURE. Deterministic, so the two cannot refuse each other forever.
  const bool yield = sa.awaiting_response && sa.in_flight.kind == Request::RekeyIke &&
                     sa.creating && nonce != nullptr && nonce_less(sa.creating->nonce, nonce->data);
  if (sa.rekeyed_to != 0 || sa.state != IkeState::Established ||
      (sa.awaiting_response && sa.in_flight.kind != Request::Liveness && !yield) ||
      std::any_of(sa.children.begin(), sa.children.end(),
                  [](const ChildSa &c) { return c.state == ChildState::None; }))
    return respond_error(ctx, sa, mid, notify(NotifyType::TemporaryFailure),
                         "an exchange of ours is under way (or the IKE SA is being replaced)");
  if (ke == nullptr)
    return respond_error(ctx, sa, mid, notify(NotifyType::InvalidSyntax), "IKE rekey without KE");
  const auto mine = to_wire(sa.config->proposals);
  auto chosen = select_proposal(mine, sa_payload->proposals, ke->group);
  if (!chosen || chosen->spi.size() != 8 || !ike_algorithms(*chosen)) {
    ++ctx.counters.no_proposal_chosen;
    return respond_error(ctx, sa, mid, notify(NotifyType::NoProposalChosen),
                         "peer offered " + describe(sa_payload->proposals));
  }
  const uint16_t group = transform_of(*chosen, wire::TransformType::Dh)->id;
  if (group != ke->group) {
    ++ctx.counters.invalid_ke_sent;
    return respond_error(ctx, sa, mid,
                         notify(NotifyType::InvalidKePayload, wire::ProtocolId::None, {},
                                group_bytes(group)),
                         "KE group " + std::to_string(ke->group));
  }
  auto kg = crypto::ke_group_from_id(group);
  auto our_ke = kg ? ctx.random->key_exchange(*kg) : Result<std::unique_ptr<crypto::KeyExchange>>(fail(kg.error()));
  auto nr = ctx.random->nonce();
  auto spi = ctx.new_ike_spi ? ctx.new_ike_spi() : Result<uint64_t>(fail("no SPI source"));
  if (!our_ke || !nr || !spi) return fail_sa(sa, "IKE rekey: cannot make KE, nonce or SPI");
  auto g_ir = (*our_ke)->shared_secret(ke->data);
  if (!g_ir)
    return respond_error(ctx, sa, mid, notify(NotifyType::InvalidSyntax), g_ir.error().message);
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

}  // namespace

void send_create(Context &ctx, IkeSa &sa, QueuedRequest request) {
  if (sa.state != IkeState::Established || sa.rekeyed_to != 0) return;
  PendingCreate p;
  p.kind = request.kind;
  auto nonce = ctx.random->nonce();
  if (!nonce) return fail_sa(sa, "CREATE_CHILD_SA: " + nonce.error().message);
  p.nonce = std::move(*nonce);
  std::vector<wire::Payload> payloads;
  if (request.kind == Request::RekeyIke) {
    p.group = sa.retry_group.value_or(sa.algs.group);
    auto spi = ctx.new_ike_spi ? ctx.new_ike_spi() : Result<uint64_t>(fail("no SPI source"));
    auto ke = ctx.random->key_exchange(p.group);
    if (!spi || !ke) return fail_sa(sa, "IKE rekey: cannot make an SPI or a KE");
    p.new_ike_spi = *spi;
    p.ke = std::move(*ke);
    auto proposals = to_wire(sa.config->proposals);
    for (auto &w : proposals) w.spi = spi_bytes(p.new_ike_spi);
    const auto pub = p.ke->public_value();
    payloads = {wire::SaPayload{proposals}, wire::NoncePayload{p.nonce},
                wire::KePayload{static_cast<uint16_t>(p.group), Bytes(pub.begin(), pub.end())}};
  } else {
    ChildSa *old = nullptr;
    if (request.kind == Request::RekeyChild) {
      old = sa.child(request.child_spi);
      if (old == nullptr || old->state != ChildState::Installed || old->replaced_by != 0) {
        log::debug(label(sa) + ": rekey of CHILD SA " + esp_spi_str(request.child_spi) +
                   " dropped: no longer installed");
        return;
      }
      p.old_spi = old->spi_in;
    }
    // A rekey keeps its child; a new CHILD SA is of the child asked for (default: first).
    p.child = old ? old->cfg : request.child ? request.child : &sa.config->children.front();
    const ChildConfig &cc = *p.child;
    auto spi = alloc_inbound_spi(ctx, sa, cc);
    if (!spi) return log::error(label(sa) + ": CREATE_CHILD_SA: " + spi.error().message);
    p.new_spi_in = *spi;
    if (auto g = pfs_group(cc)) {
      p.group = sa.retry_group.value_or(*g);
      auto ke = ctx.random->key_exchange(p.group);
      if (!ke) return fail_sa(sa, "CREATE_CHILD_SA: " + ke.error().message);
      p.ke = std::move(*ke);
    }
    if (old) {
      payloads.push_back(
          notify(NotifyType::RekeySa, wire::ProtocolId::Esp, esp_spi_bytes(old->spi_in)));
      old->state = ChildState::Rekeying;
    }
    const bool transport = old ? old->transport : cc.mode == kernel::Mode::Transport;
    if (transport) payloads.push_back(notify(NotifyType::UseTransportMode));
    payloads.push_back(wire::SaPayload{to_wire(cc.proposals, esp_spi_bytes(p.new_spi_in), true)});
    payloads.push_back(wire::NoncePayload{p.nonce});
    if (p.ke) {
      const auto pub = p.ke->public_value();
      payloads.push_back(
          wire::KePayload{static_cast<uint16_t>(p.group), Bytes(pub.begin(), pub.end())});
    }
    payloads.push_back(wire::TsIPayload{old ? old->local_ts : to_ts(cc.local_ts)});
    payloads.push_back(wire::TsRPayload{old ? old->remote_ts : to_ts(cc.remote_ts)});
  }
  sa.retry_group.reset();
  sa.creating = std::move(p);
  sa.in_flight = request;
  if (auto r = send_sk_request(ctx, sa, ExchangeType::CreateChildSa, payloads); !r)
    return fail_sa(sa, "CREATE_CHILD_SA request: " + r.error().message);
  log::info(label(sa) + ": CREATE_CHILD_SA request sent: " +
            (request.kind == Request::RekeyIke     ? std::string("IKE SA rekey")
             : request.kind == Request::RekeyChild ? "rekey of CHILD SA " +
                                                         esp_spi_str(request.child_spi)
                                                   : std::string("new CHILD SA")) +
            (sa.creating->ke ? std::string(", KE ") + std::string(ke_group_name(sa.creating->group))
                             : std::string()));
}

void respond_create_child(Context &ctx, IkeSa &sa, const Inbound &in) {
  const auto *inner = &in.inner;
  const uint32_t mid = in.message_id();
  const auto *sa_payload = find_payload<wire::SaPayload>(*inner);
  const auto *nonce = find_payload<wire::NoncePayload>(*inner);
  const auto *ke = find_payload<wire::KePayload>(*inner);
  if (sa.state != IkeState::Established)
    return respond_error(ctx, sa, mid, notify(NotifyType::TemporaryFailure),
                         "the IKE SA is being deleted");
  if (!sa_payload->proposals.empty() && sa_payload->proposals.front().protocol == wire::ProtocolId::Ike)
    return respond_ike_rekey(ctx, sa, mid, *inner);
  const auto *tsi = find_payload<wire::TsIPayload>(*inner);
  const auto *tsr = find_payload<wire::TsRPayload>(*inner);
  if (tsi == nullptr || tsr == nullptr)
    return respond_error(ctx, sa, mid, notify(NotifyType::InvalidSyntax), "no TSi/TSr");
  // §1.3.3: the SPI the exchange's initiator receives on: our outbound SPI.
  size_t target = sa.children.size();
  if (const auto *rekey = find_notify(*inner, NotifyType::RekeySa)) {
    const uint32_t spi = esp_spi_value(rekey->spi);
    for (size_t i = 0; i < sa.children.size(); ++i)
      if (child_in_kernel(sa.children[i]) && sa.children[i].spi_out == spi) target = i;
    if (target == sa.children.size())
      return respond_error(ctx, sa, mid,
                           notify(NotifyType::ChildSaNotFound, wire::ProtocolId::Esp, rekey->spi),
                           "no CHILD SA with outbound SPI " + esp_spi_str(spi));
    if (being_replaced(sa, sa.children[target]))
      return respond_error(ctx, sa, mid, notify(NotifyType::TemporaryFailure),
                           "CHILD SA " + esp_spi_str(sa.children[target].spi_in) +
                               " is being deleted or replaced");
  }
  const bool transport = has_notify(*inner, NotifyType::UseTransportMode);
  const ChildConfig *only = target != sa.children.size() ? sa.children[target].cfg : nullptr;
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
    return respond_error(ctx, sa, mid, notify(choice.error), choice.why);
  }
  const wire::Proposal *chosen = &choice.proposal;
  std::unique_ptr<crypto::KeyExchange> our_ke;
  std::optional<SecretBytes> g_ir;
  if (auto dh = transform_of(*chosen, wire::TransformType::Dh)) {
    if (ke == nullptr || ke->group != dh->id) {
      ++ctx.counters.invalid_ke_sent;
      return respond_error(ctx, sa, mid,
                           notify(NotifyType::InvalidKePayload, wire::ProtocolId::None, {},
                                  group_bytes(dh->id)),
                           "PFS group wanted: " + std::to_string(dh->id));
    }
    auto kg = crypto::ke_group_from_id(dh->id);
    if (!kg) return respond_error(ctx, sa, mid, notify(NotifyType::NoProposalChosen), kg.error().message);
    auto k = ctx.random->key_exchange(*kg);
    if (!k) return fail_sa(sa, "CREATE_CHILD_SA: " + k.error().message);
    auto s = (*k)->shared_secret(ke->data);
    if (!s) return respond_error(ctx, sa, mid, notify(NotifyType::InvalidSyntax), s.error().message);
    our_ke = std::move(*k);
    g_ir = std::move(*s);
  }
  const auto &ts_i = choice.ts_i;
  const auto &ts_r = choice.ts_r;
  auto nr = ctx.random->nonce();
  if (!nr) return fail_sa(sa, "CREATE_CHILD_SA: " + nr.error().message);
  ChildSa c;
  c.cfg = choice.cfg;
  c.proposal = *chosen;
  c.spi_out = esp_spi_value(chosen->spi);
  c.transport = transport;
  c.remote_ts = ts_i;
  c.local_ts = ts_r;
  const bool rekey = target != sa.children.size();
  if (rekey) c.replaces = sa.children[target].spi_in;
  c.announce_later = rekey && sa.children[target].state == ChildState::Rekeying;
  auto spi = alloc_inbound_spi(ctx, sa, *c.cfg);
  if (!spi)
    return respond_error(ctx, sa, mid, notify(NotifyType::NoAdditionalSas), spi.error().message);
  c.spi_in = *spi;
  if (auto r = install_child(ctx, sa, c, {nonce->data, *nr, g_ir ? &*g_ir : nullptr, false}, rekey);
      !r) {
    release_child_spi(ctx, sa, c);
    return respond_error(ctx, sa, mid, notify(NotifyType::NoAdditionalSas), r.error().message);
  }
  if (rekey) {
    ChildSa &t = sa.children[target];
    t.replaced_by = c.spi_in;
    if (t.state == ChildState::Rekeying) {  // §2.8.1: ours is in flight too
      t.collision_ni = nonce->data;
      t.collision_nr = *nr;
    }
  }
  std::vector<wire::Payload> out;
  if (transport) out.push_back(notify(NotifyType::UseTransportMode));
  wire::Proposal answer = *chosen;
  answer.spi = esp_spi_bytes(c.spi_in);
  out.push_back(wire::SaPayload{{answer}});
  out.push_back(wire::NoncePayload{*nr});
  if (our_ke) {
    const auto pub = our_ke->public_value();
    out.push_back(wire::KePayload{static_cast<uint16_t>(our_ke->group()), Bytes(pub.begin(), pub.end())});
  }
  out.push_back(wire::TsIPayload{ts_i});
  out.push_back(wire::TsRPayload{ts_r});
  sa.children.push_back(std::move(c));
  if (auto r = send_sk_response(ctx, sa, ExchangeType::CreateChildSa, mid, out); !r)
    fail_sa(sa, "CREATE_CHILD_SA response: " + r.error().message);
}

namespace {

void child_request_failed(Context &ctx, IkeSa &sa, PendingCreate &p, const std::string &why) {
  ChildSa spare;
  spare.spi_in = p.new_spi_in;
  release_child_spi(ctx, sa, spare);
  if (ChildSa *old = sa.child(p.old_spi); old && old->state == ChildState::Rekeying)
    old->state = ChildState::Installed;
  // Ours failed: a rekey of the same CHILD SA by the peer that we answered stands.
  if (ChildSa *old = sa.child(p.old_spi); old && old->replaced_by != 0)
    if (ChildSa *theirs = sa.child(old->replaced_by); theirs && theirs->announce_later)
      announce_child(ctx, sa, *theirs);
  log::error(label(sa) + ": CREATE_CHILD_SA failed: " + why);
}

void process_child_response(Context &ctx, IkeSa &sa, PendingCreate &p,
                            const std::vector<wire::Payload> &in) {
  const ChildConfig &cc = *p.child;
  const auto *sa_payload = find_payload<wire::SaPayload>(in);
  const auto *nonce = find_payload<wire::NoncePayload>(in);
  const auto *ke = find_payload<wire::KePayload>(in);
  const auto *tsi = find_payload<wire::TsIPayload>(in);
  const auto *tsr = find_payload<wire::TsRPayload>(in);
  if (tsi == nullptr || tsr == nullptr)
    return child_request_failed(ctx, sa, p, "response without TSi/TSr");
  const auto mine = to_wire(cc.proposals, esp_spi_bytes(p.new_spi_in), true);
  auto chosen = select_proposal(mine, sa_payload->proposals);
  const bool transport = has_notify(in, NotifyType::UseTransportMode);
  if (sa_payload->proposals.size() != 1 || !chosen || chosen->spi.size() != 4 ||
      !same_transforms(*chosen, sa_payload->proposals.front()) || !esp_algorithms(*chosen)) {
    child_request_failed(ctx, sa, p, "peer chose what we did not offer: " +
                                         describe(sa_payload->proposals));
    return start_informational(ctx, sa, {Request::DeleteChild, p.new_spi_in});
  }
  std::optional<SecretBytes> g_ir;
  if (auto dh = transform_of(*chosen, wire::TransformType::Dh)) {
    if (!p.ke || ke == nullptr || ke->group != dh->id || dh->id != static_cast<uint16_t>(p.group)) {
      child_request_failed(ctx, sa, p, "peer's KE does not match our PFS group");
      return start_informational(ctx, sa, {Request::DeleteChild, p.new_spi_in});
    }
    auto s = p.ke->shared_secret(ke->data);
    if (!s) {
      child_request_failed(ctx, sa, p, s.error().message);
      return start_informational(ctx, sa, {Request::DeleteChild, p.new_spi_in});
    }
    g_ir = std::move(*s);
  }
  ChildSa c;
  c.cfg = p.child;
  c.spi_in = p.new_spi_in;
  c.spi_out = esp_spi_value(chosen->spi);
  c.proposal = *chosen;
  c.transport = transport;
  c.local_ts = drop_covered(tsi->selectors);
  c.remote_ts = drop_covered(tsr->selectors);
  ChildSa *old = sa.child(p.old_spi);
  if (old && !child_in_kernel(*old)) old = nullptr;  // deleted meanwhile: a new CHILD SA
  bool won = true;
  if (old && !old->collision_ni.empty()) {
    // §2.8.1: the SA created with the lowest of the four nonces is redundant; its
    // creator deletes it.
    const ByteView low = lowest({p.nonce, nonce->data, old->collision_ni, old->collision_nr});
    won = !(low.data() == ByteView(p.nonce).data() || low.data() == nonce->data.data());
    log::info(label(sa) + ": rekey collision on CHILD SA " + esp_spi_str(old->spi_in) + ": " +
              (won ? "ours stays, the peer deletes its SA" : "the peer's stays, we delete ours"));
  }
  if (old && won) c.replaces = old->spi_in;
  c.redundant = !won;
  // A redundant SA never carries our traffic: its outbound half stays out of the kernel.
  if (auto r = install_child(ctx, sa, c, {p.nonce, nonce->data, g_ir ? &*g_ir : nullptr, true},
                             !won);
      !r) {
    child_request_failed(ctx, sa, p, r.error().message);
    return start_informational(ctx, sa, {Request::DeleteChild, p.new_spi_in});
  }
  const uint32_t new_spi = c.spi_in;
  const uint32_t old_spi = old ? old->spi_in : 0;
  const uint32_t peer_new = old ? old->replaced_by : 0;
  sa.children.push_back(std::move(c));
  ChildSa *theirs = peer_new != 0 ? sa.child(peer_new) : nullptr;
  if (!won) {
    if (theirs != nullptr && theirs->announce_later) announce_child(ctx, sa, *theirs);
    return start_informational(ctx, sa, {Request::DeleteChild, new_spi});
  }
  if (old_spi == 0) return;
  ChildSa &o = *sa.child(old_spi);
  if (theirs != nullptr) {  // the peer deletes it
    theirs->redundant = true;
    theirs->announce_later = false;
  }
  o.replaced_by = new_spi;
  o.state = ChildState::Rekeyed;
  start_informational(ctx, sa, {Request::DeleteChild, old_spi});
}

void process_error(Context &ctx, IkeSa &sa, PendingCreate &p, QueuedRequest done,
                   const wire::NotifyPayload &err) {
  const bool ike = p.kind == Request::RekeyIke;
  if (err.type == NotifyType::InvalidKePayload && err.data.size() == 2 && ++p.ke_retries <= 2) {
    const uint16_t g = static_cast<uint16_t>(err.data[0] << 8 | err.data[1]);
    auto kg = crypto::ke_group_from_id(g);
    const bool ours = ike ? offered_group(sa.config->proposals, g)
                          : offered_group(p.child->proposals, g);
    if (kg && ours) {
      ++ctx.counters.invalid_ke_received;
      if (!ike) child_request_failed(ctx, sa, p, "INVALID_KE_PAYLOAD, retrying with group " +
                                                     std::to_string(g));
      sa.retry_group = *kg;
      sa.queued.insert(sa.queued.begin(), done);
      return;
    }
  }
  if (!ike) child_request_failed(ctx, sa, p, wire::notify_name(err.type));
  else log::error(label(sa) + ": IKE SA rekey refused: " + wire::notify_name(err.type));
  if (err.type == NotifyType::TemporaryFailure) {
    // A rekey the peer made of the same CHILD SA stands: nothing to try again.
    const ChildSa *old = sa.child(p.old_spi);
    if (p.kind == Request::RekeyChild && old && old->replaced_by != 0) return;
    postpone(ctx, sa, done);
    return;
  }
  if (err.type == NotifyType::ChildSaNotFound && p.kind == Request::RekeyChild) {
    // The peer no longer has it: ours goes too, and a fresh CHILD SA replaces it.
    if (ChildSa *old = sa.child(p.old_spi)) remove_child(ctx, sa, *old, "unknown to the peer");
    forget_deleted_children(sa);
    enqueue(ctx, sa, {Request::CreateChild, 0, p.child});
  }
}

}  // namespace

void process_create_child_response(Context &ctx, IkeSa &sa, const Inbound &in) {
  const auto *inner = &in.inner;
  sa.awaiting_response = false;
  if (!sa.creating) return send_queued(ctx, sa);
  PendingCreate p = std::move(*sa.creating);
  sa.creating.reset();
  const QueuedRequest done = sa.in_flight;
  if (const auto *err = find_error(*inner)) {
    process_error(ctx, sa, p, done, *err);
    return send_queued(ctx, sa);
  }
  const auto *sa_payload = find_payload<wire::SaPayload>(*inner);
  const auto *nonce = find_payload<wire::NoncePayload>(*inner);
  if (sa_payload == nullptr || nonce == nullptr) {
    if (p.kind != Request::RekeyIke) child_request_failed(ctx, sa, p, "response without SA or Nr");
    return send_queued(ctx, sa);
  }
  if (p.kind != Request::RekeyIke) {
    process_child_response(ctx, sa, p, *inner);
    forget_deleted_children(sa);
    return send_queued(ctx, sa);
  }
  // IKE SA rekey (§2.18).
  const auto *ke = find_payload<wire::KePayload>(*inner);
  auto mine = to_wire(sa.config->proposals);
  for (auto &w : mine) w.spi = spi_bytes(p.new_ike_spi);
  auto chosen = select_proposal(mine, sa_payload->proposals, ke ? std::optional<uint16_t>(ke->group)
                                                                 : std::nullopt);
  auto dh = chosen ? transform_of(*chosen, wire::TransformType::Dh) : std::nullopt;
  if (sa_payload->proposals.size() != 1 || !chosen || chosen->spi.size() != 8 || ke == nullptr ||
      !dh || dh->id != ke->group || ke->group != static_cast<uint16_t>(p.group)) {
    log::error(label(sa) + ": IKE SA rekey: peer's answer does not match our offer: " +
               describe(sa_payload->proposals));
    return send_queued(ctx, sa);
  }
  auto g_ir = p.ke->shared_secret(ke->data);
  if (!g_ir) {
    log::error(label(sa) + ": IKE SA rekey: " + g_ir.error().message);
    return send_queued(ctx, sa);
  }
  auto fresh = rekeyed_ike_sa(ctx, sa, true, p.new_ike_spi, spi_value64(chosen->spi), *chosen,
                              p.nonce, nonce->data, *g_ir);
  if (!fresh) {
    log::error(label(sa) + ": IKE SA rekey: " + fresh.error().message);
    return send_queued(ctx, sa);
  }
  if (sa.rekeyed_to != 0) {
    // We yielded to the peer's simultaneous rekey, and the peer answered ours as well:
    // this new IKE SA is the redundant one, and we made it, so we delete it (§2.8.2).
    IkeSa &extra = **fresh;
    extra.rekeyed_to = sa.rekeyed_to;  // no events: it never carried anything
    extra.close_reason = "redundant (simultaneous IKE SA rekey)";
    log::info(label(extra) + ": " + extra.close_reason + ", deleting it");
    start_informational(ctx, extra, {Request::DeleteIke, 0});
    if (ctx.adopt) ctx.adopt(std::move(*fresh));
    return;
  }
  take_over(ctx, sa, std::move(*fresh));
  sa.close_reason = "rekeyed";
  start_informational(ctx, sa, {Request::DeleteIke, 0});
}

}  // namespace ipsec::ike::v2
