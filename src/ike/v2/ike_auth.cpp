// SPDX-License-Identifier: Apache-2.0
// IKE_AUTH with PSK (RFC 7296 §1.2, §2.15) and the first CHILD SA (§1.2, §2.9,
// §2.17).
#include "common/log.h"
#include "crypto/ocsp.h"
#include "ike/traffic_selectors.h"
#include "ike/v2/authenticator.h"
#include "ike/v2/child_negotiation.h"
#include "ike/v2/contributors.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/nat.h"
#include "ike/v2/sig_auth.h"
#include "ike/v2/sk_message.h"
#include "wire/names.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;
using wire::NotifyType;

Identity identity_of(wire::IdType type, const Bytes& data) { return Identity{type, data}; }

// Our AUTH payload, from the authenticator of our side of the connection (§2.15).
Result<wire::AuthPayload> own_auth(const Context& ctx, const IkeSa& sa) {
  auto a = make_authenticator(sa, ctx.connections->credentials(), true);
  if (!a) return fail(a.error());
  return (*a)->build(sa);
}

// The subject of the peer's certificate (its first CERT), not verified yet: a remote id may
// match it instead of the IDi; the signature authenticator verifies that very certificate.
std::optional<Identity> cert_subject(const std::vector<wire::Payload>& message) {
  const auto* cert = find_payload<wire::CertPayload>(message);
  if (cert == nullptr) return std::nullopt;
  auto c = crypto::Certificate::parse(cert->data);
  if (!c || c->size() != 1) return std::nullopt;
  return Identity{wire::IdType::DerAsn1Dn, c->front().subject()};
}

// The connection's remote id matches the IDi, or (certificate authentication) the subject
// of the peer's certificate.
bool remote_id_fits(const ConnectionConfig& c, const Identity& peer_id,
                    const std::optional<Identity>& subject) {
  if (c.remote_id.matches(peer_id)) return true;
  return c.remote_auth == AuthMethod::Pubkey && subject && c.remote_id.matches(*subject);
}

// Checks the peer's ID and AUTH (with its CERT payloads); an empty string means
// authenticated.
std::string verify_peer(const Context& ctx, IkeSa& sa, const Identity& peer_id,
                        const std::vector<wire::Payload>& message) {
  const auto* auth = find_payload<wire::AuthPayload>(message);
  if (auth == nullptr) return "authentication failed: no AUTH payload";
  const auto subject = cert_subject(message);
  if (!remote_id_fits(*sa.config, peer_id, subject))
    return "authentication failed: peer identity " + peer_id.str() + " is not the expected " +
           sa.config->remote_id.str();
  auto a = make_authenticator(sa, ctx.connections->credentials(), false, auth->method);
  if (!a) return "authentication failed: " + a.error().message;
  if (auto r = (*a)->verify(sa, peer_id, *auth, message); !r) {
    if (crypto::ocsp_pending(r.error())) {
      sa.auth_waiting = true;
      return "waiting: " + r.error().message;
    }
    return "authentication failed: " + r.error().message;
  }
  sa.peer_auth_text = "PSK";
  if (sa.config->remote_auth == AuthMethod::Pubkey) {
    // The authenticator verified this very certificate (the first CERT).
    if (subject) sa.peer_cert_subject = crypto::dn_to_text(subject->data);
    sa.peer_auth_text =
        "certificate \"" + sa.peer_cert_subject + "\" (" + signature_text(*auth) + ")";
  }
  return {};
}

// §2.15: of the connections whose addresses fit, the one whose remote id matches the
// peer's IDi serves this IKE SA (IKE_SA_INIT only knew the addresses). An empty string:
// sa.config is that connection now.
std::string pick_connection(const Context& ctx, IkeSa& sa, const Identity& peer_id,
                            const std::vector<wire::Payload>& message) {
  const auto* idr = find_payload<wire::IdRPayload>(message);
  const Identity wanted = idr ? identity_of(idr->id_type, idr->data) : Identity{};
  const auto subject = cert_subject(message);
  auto c = ctx.connections->by_identity(sa.local, sa.remote, peer_id, idr ? &wanted : nullptr,
                                        subject ? &*subject : nullptr);
  if (c == nullptr)  // named after the candidate IKE_SA_INIT found by address
    return "authentication failed: peer identity " + peer_id.str() + " is not the expected " +
           sa.config->remote_id.str() + " (connection " + sa.config->name +
           (idr ? "; the peer asked for " + wanted.str() : std::string()) +
           "), nor one of another connection from " + sa.remote.addr.str();
  if (c == sa.config) return {};
  // The IKE SA's algorithms were chosen from the first candidate's proposals.
  const auto mine = to_wire(c->proposals);
  if (!select_proposal(mine, std::span<const wire::Proposal>(&sa.ike_proposal, 1)))
    return "authentication failed: connection " + c->name + " for " + peer_id.str() +
           " does not allow the IKE SA's " + describe(sa.ike_proposal);
  log::info(label(sa) + ": peer " + peer_id.str() + " is served by connection " + c->name +
            " (not " + sa.config->name + ")");
  sa.config = std::move(c);
  return {};
}

wire::NotifyPayload notify(NotifyType t) {
  wire::NotifyPayload n;
  n.type = t;
  return n;
}

void child_failed(Context& ctx, IkeSa& sa, ChildSa& c, std::string reason) {
  release_child_spi(ctx, sa, c);
  c.state = ChildState::Failed;
  c.failure = std::move(reason);
  log::error(label(sa) + ": CHILD SA " + std::string(child_name(c)) + " failed: " + c.failure);
}

// Established (either role): lifetimes, DPD clock, keepalives, the event.
void established(Context& ctx, IkeSa& sa, const Identity& peer_id) {
  sa.peer_id = peer_id;
  sa.state = IkeState::Established;
  sa.established_at = ctx.clock.now();
  sa.last_peer_message = sa.established_at;
  ++ctx.counters.ike_established;
  arm_keepalive(ctx, sa);
  arm_ike_lifetime(ctx, sa);
  log::info(label(sa) + ": IKE_AUTH done, peer " + peer_id.str() + " authenticated with " +
            sa.peer_auth_text);
  if (ctx.engine) {
    EngineEvent e;
    e.kind = EventKind::IkeUp;
    ctx.engine->emit(sa, std::move(e));
  }
}

// Responder: picks the child, its ESP proposal and the narrowed selectors; on success the
// CHILD SA is installed and its payloads appended to `out`, otherwise the error Notify is.
void negotiate_child(Context& ctx, IkeSa& sa, const std::vector<wire::Payload>& in,
                     std::vector<wire::Payload>& out) {
  const auto* sa_payload = find_payload<wire::SaPayload>(in);
  const auto* tsi = find_payload<wire::TsIPayload>(in);
  const auto* tsr = find_payload<wire::TsRPayload>(in);
  if (sa_payload == nullptr || tsi == nullptr || tsr == nullptr) return;  // no CHILD SA asked
  const bool transport = has_notify(in, NotifyType::UseTransportMode);
  sa.children.emplace_back();
  ChildSa& c = sa.children.back();
  const ChildChoice choice = choose_child(
      *sa.config, {sa_payload->proposals, tsi->selectors, tsr->selectors, transport, true, {}});
  if (!choice) {
    if (choice.error == NotifyType::TsUnacceptable)
      ++ctx.counters.ts_unacceptable;
    else
      ++ctx.counters.no_proposal_chosen;
    out.push_back(notify(choice.error));
    return child_failed(ctx, sa, c, wire::notify_name(choice.error) + ": " + choice.why);
  }
  c.cfg = choice.cfg;
  c.proposal = choice.proposal;
  c.spi_out = esp_spi_value(choice.proposal.spi);
  c.transport = transport;
  c.remote_ts = choice.ts_i;
  c.local_ts = choice.ts_r;
  auto spi = alloc_inbound_spi(ctx, sa, *c.cfg);
  if (!spi) {
    out.push_back(notify(NotifyType::NoAdditionalSas));
    return child_failed(ctx, sa, c, spi.error().message);
  }
  c.spi_in = *spi;
  if (auto r = install_child(ctx, sa, c, {sa.ni, sa.nr, nullptr, false}); !r) {
    // No fitting error type exists for the first CHILD SA; §1.2 lets us refuse
    // it with one.
    out.push_back(notify(NotifyType::NoAdditionalSas));
    return child_failed(ctx, sa, c, r.error().message);
  }
  if (transport) out.push_back(notify(NotifyType::UseTransportMode));
  wire::Proposal answer = choice.proposal;
  answer.spi = esp_spi_bytes(c.spi_in);
  out.push_back(wire::SaPayload{{answer}});
  out.push_back(wire::TsIPayload{choice.ts_i});
  out.push_back(wire::TsRPayload{choice.ts_r});
}

void send_encrypted_response(Context& ctx, IkeSa& sa, uint32_t mid,
                             const std::vector<wire::Payload>& payloads) {
  if (auto r = send_sk_response(ctx, sa, ExchangeType::IkeAuth, mid, payloads); !r)
    fail_sa(sa, "IKE_AUTH response: " + r.error().message);
}

}  // namespace

Result<void> start_auth(Context& ctx, IkeSa& sa) {
  if (sa.want_children.empty()) sa.want_children.push_back(&sa.config->children.front());
  const ChildConfig& cc = *sa.want_children.front();
  auto spi = alloc_inbound_spi(ctx, sa, cc);
  if (!spi) return fail(spi.error());
  sa.children.clear();
  sa.children.emplace_back();
  sa.children.back().cfg = &cc;
  sa.children.back().spi_in = *spi;
  auto auth = own_auth(ctx, sa);
  if (!auth) return fail(auth.error());
  std::vector<wire::Payload> inner{
      wire::IdIPayload{sa.config->local_id.type, sa.config->local_id.data}, std::move(*auth)};
  if (cc.mode == kernel::Mode::Transport) inner.push_back(notify(NotifyType::UseTransportMode));
  inner.push_back(wire::SaPayload{to_wire(cc.proposals, esp_spi_bytes(*spi))});
  auto ts_i = to_ts(cc.local_ts), ts_r = to_ts(cc.remote_ts);
  if (sa.trigger) {  // §2.9: the packet that asked for the SA first
    ts_i.insert(ts_i.begin(), host_ts(sa.trigger->src.addr));
    ts_r.insert(ts_r.begin(), host_ts(sa.trigger->dst.addr));
  }
  inner.push_back(wire::TsIPayload{ts_i});
  inner.push_back(wire::TsRPayload{ts_r});
  if (auto r = contribute(ctx, sa, ExchangeType::IkeAuth, false, inner); !r) return r;
  sa.state = IkeState::AuthSent;
  sa.in_flight = {Request::Auth, 0};
  return send_sk_request(ctx, sa, ExchangeType::IkeAuth, inner);
}

void respond_auth(Context& ctx, IkeSa& sa, const Inbound& in) {
  const auto* inner = &in.inner;
  const uint32_t mid = in.message_id();
  follow_peer(ctx, sa, in.local, in.remote);
  const auto* idi = find_payload<wire::IdIPayload>(*inner);
  const Identity peer_id = idi ? identity_of(idi->id_type, idi->data) : Identity{};
  std::string why = pick_connection(ctx, sa, peer_id, *inner);
  if (why.empty()) why = verify_peer(ctx, sa, peer_id, *inner);
  if (sa.auth_waiting) return;  // no answer yet: the engine keeps the request
  if (!why.empty()) {
    ++ctx.counters.auth_failed;
    send_encrypted_response(ctx, sa, mid, {notify(NotifyType::AuthenticationFailed)});
    return fail_sa(sa, why);
  }
  auto auth = own_auth(ctx, sa);
  if (!auth) return fail_sa(sa, "IKE_AUTH: " + auth.error().message);
  std::vector<wire::Payload> out{
      wire::IdRPayload{sa.config->local_id.type, sa.config->local_id.data}, std::move(*auth)};
  established(ctx, sa, peer_id);
  take_contributions(ctx, sa, in);
  negotiate_child(ctx, sa, *inner, out);
  if (auto r = contribute(ctx, sa, ExchangeType::IkeAuth, true, out); !r)
    return fail_sa(sa, "IKE_AUTH response: " + r.error().message);
  send_encrypted_response(ctx, sa, mid, out);
}

namespace {

// §2.21.2: the responder installed a CHILD SA we cannot use; ask it to delete
// its half (it sends with our inbound SPI).
void refuse_child(Context& ctx, IkeSa& sa, ChildSa& c, std::string reason) {
  const uint32_t spi = c.spi_in;
  child_failed(ctx, sa, c, std::move(reason));
  start_informational(ctx, sa, {Request::DeleteChild, spi});
}

// Initiator: checks the responder's CHILD SA choice, then installs.
void accept_child(Context& ctx, IkeSa& sa, const std::vector<wire::Payload>& in) {
  if (sa.children.empty()) return;
  ChildSa& c = sa.children.front();
  if (const auto* err = find_error(in))
    return child_failed(ctx, sa, c, "peer refused the CHILD SA: " + wire::notify_name(err->type));
  ChildAnswer answer = check_child_answer(*c.cfg, c.spi_in, false, in);
  if (!answer) {
    // No SA at all: the responder made none, so there is nothing for it to delete.
    if (find_payload<wire::SaPayload>(in) == nullptr) return child_failed(ctx, sa, c, answer.why);
    return refuse_child(ctx, sa, c, answer.why);
  }
  c.proposal = std::move(answer.proposal);
  c.spi_out = esp_spi_value(c.proposal.spi);
  c.transport = answer.transport;
  c.local_ts = std::move(answer.local_ts);
  c.remote_ts = std::move(answer.remote_ts);
  if (auto r = install_child(ctx, sa, c, {sa.ni, sa.nr, nullptr, true}); !r)
    refuse_child(ctx, sa, c, r.error().message);
}

}  // namespace

Step process_auth_response(Context& ctx, IkeSa& sa, const Inbound& in) {
  const auto* inner = &in.inner;
  const auto* idr = find_payload<wire::IdRPayload>(*inner);
  const auto* auth = find_payload<wire::AuthPayload>(*inner);
  if (const auto* err = find_error(*inner); err && auth == nullptr) {
    if (err->type == NotifyType::AuthenticationFailed) ++ctx.counters.auth_failed;
    for (auto& c : sa.children) release_child_spi(ctx, sa, c);
    fail_sa(sa, err->type == NotifyType::AuthenticationFailed
                    ? "authentication failed: peer rejected our AUTH"
                    : "IKE_AUTH refused by peer: " + wire::notify_name(err->type));
    return Step::Failed;
  }
  const Identity peer_id = idr ? identity_of(idr->id_type, idr->data) : Identity{};
  auto why = verify_peer(ctx, sa, peer_id, *inner);
  if (sa.auth_waiting) return Step::Waiting;
  if (!why.empty()) {
    // §2.21.2: the responder considers the IKE SA up; tell it with a Delete.
    ++ctx.counters.auth_failed;
    for (auto& c : sa.children) release_child_spi(ctx, sa, c);
    fail_and_delete(ctx, sa, why);
    return Step::Failed;
  }
  established(ctx, sa, peer_id);
  take_contributions(ctx, sa, in);
  accept_child(ctx, sa, *inner);
  // The connection's other children follow in CREATE_CHILD_SA (§1.3.1).
  for (size_t i = 1; i < sa.want_children.size(); ++i)
    enqueue(ctx, sa, {Request::CreateChild, 0, sa.want_children[i]});
  sa.want_children.clear();
  return Step::Done;
}

}  // namespace ipsec::ike::v2
