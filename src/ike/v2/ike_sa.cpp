// SPDX-License-Identifier: Apache-2.0
// IKE SA bookkeeping shared by the exchanges: headers, sending, retransmission,
// key derivation.
#include "ike/v2/ike_sa.h"

#include <algorithm>
#include <cstdio>

#include "common/log.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/sk_message.h"
#include "wire/names.h"

namespace ipsec::ike::v2 {

std::string_view to_string(IkeState s) {
  switch (s) {
    case IkeState::SaInitSent:
      return "IKE_SA_INIT sent";
    case IkeState::SaInitDone:
      return "waiting for IKE_AUTH";
    case IkeState::AuthSent:
      return "IKE_AUTH sent";
    case IkeState::Established:
      return "established";
    case IkeState::Deleting:
      return "deleting";
    case IkeState::Closed:
      return "closed";
    case IkeState::Failed:
      return "failed";
  }
  return "?";
}

std::string_view to_string(ChildState s) {
  switch (s) {
    case ChildState::None:
      return "none";
    case ChildState::Installed:
      return "installed";
    case ChildState::Rekeying:
      return "rekeying";
    case ChildState::Rekeyed:
      return "rekeyed";
    case ChildState::Failed:
      return "failed";
    case ChildState::Deleted:
      return "deleted";
  }
  return "?";
}

Bytes spi_bytes(uint64_t spi) {
  Bytes out(8);
  for (int i = 7; i >= 0; --i, spi >>= 8) out[static_cast<size_t>(i)] = static_cast<uint8_t>(spi);
  return out;
}

std::string spi_str(uint64_t spi) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(spi));
  return buf;
}

std::string label(const IkeSa& sa) {
  return "IKE SA " + spi_str(sa.spi_i) + "/" + spi_str(sa.spi_r) + " " + sa.remote.str() + " (" +
         sa.config->name + ", " + (sa.initiator ? "initiator" : "responder") + ")";
}

wire::Header make_header(const IkeSa& sa, wire::ExchangeType exchange, bool response,
                         uint32_t message_id) {
  wire::Header h;
  h.spi_i = sa.spi_i;
  h.spi_r = sa.spi_r;
  h.exchange = exchange;
  h.initiator = sa.initiator;
  h.response = response;
  h.message_id = message_id;
  return h;
}

void send_datagrams(Context& ctx, const IkeSa& sa, const std::vector<Bytes>& datagrams) {
  if (datagrams.size() > 1) ctx.counters.fragments_sent += datagrams.size();
  for (const auto& d : datagrams) ctx.sender.send(sa.local, sa.remote, d);
}

void send_request(Context& ctx, IkeSa& sa, std::vector<Bytes> datagrams) {
  // DPD bounds every request of an established IKE SA, not only liveness checks.
  sa.dpd_give_up = sa.state == IkeState::Established && sa.config->dpd_delay.count() > 0
                       ? ctx.clock.now() + Millis(sa.config->dpd_timeout)
                       : Millis{0};
  sa.pending_request = std::move(datagrams);
  sa.awaiting_response = true;
  sa.retransmits = 0;
  sa.deadline = ctx.clock.now() + ctx.retransmit.initial;
  ++sa.next_request_mid;
  send_datagrams(ctx, sa, sa.pending_request);
}

ChildSa* IkeSa::child(uint32_t spi_in) {
  for (auto& c : children)
    if (c.spi_in == spi_in && spi_in != 0) return &c;
  return nullptr;
}

const ChildSa* IkeSa::child(uint32_t spi_in) const {
  return const_cast<IkeSa*>(this)->child(spi_in);
}

void send_response(Context& ctx, IkeSa& sa, uint32_t message_id, std::vector<Bytes> datagrams) {
  sa.last_peer_message = ctx.clock.now();  // we answer only requests that verified
  sa.cached_response_mid = message_id;
  sa.cached_response = std::move(datagrams);
  sa.expected_request_mid = message_id + 1;
  send_datagrams(ctx, sa, sa.cached_response);
}

void on_retransmit_timer(Context& ctx, IkeSa& sa, Millis now) {
  if (!sa.awaiting_response) return;
  if (sa.dpd_give_up.count() != 0 && now >= sa.dpd_give_up && sa.state == IkeState::Established) {
    ++ctx.counters.timeouts;
    return peer_dead(
        ctx, sa,
        "dead peer: no answer within " + std::to_string(sa.config->dpd_timeout.count()) + " s");
  }
  if (now < sa.deadline) return;
  if (sa.retransmits >= ctx.retransmit.max_retransmits) {
    sa.awaiting_response = false;
    ++ctx.counters.timeouts;
    if (sa.state == IkeState::Deleting) {
      // Our Delete went unanswered: the SA is gone on our side either way (§1.4.1).
      sa.state = sa.failure.empty() ? IkeState::Closed : IkeState::Failed;
      log::info(label(sa) + ": Delete not answered, IKE SA removed");
      return;
    }
    const std::string why = "peer not responding: no answer after " +
                            std::to_string(sa.retransmits) + " retransmissions";
    if (sa.state == IkeState::Established) return peer_dead(ctx, sa, why);
    fail_sa(sa, why);
    return;
  }
  ++sa.retransmits;
  ++ctx.counters.retransmits;
  // §2.1: exponential backoff, doubling the timeout after each retransmission.
  sa.deadline = now + ctx.retransmit.initial * (1u << sa.retransmits);
  if (sa.dpd_give_up.count() != 0) sa.deadline = std::min(sa.deadline, sa.dpd_give_up);
  log::debug(label(sa) + ": retransmission " + std::to_string(sa.retransmits));
  send_datagrams(ctx, sa, sa.pending_request);
}

void fail_sa(IkeSa& sa, std::string reason) {
  sa.state = IkeState::Failed;
  sa.failure = std::move(reason);
  sa.ke.reset();
  log::error(label(sa) + ": " + sa.failure);
}

namespace {

// RFC 7383 §2.5.1: what one datagram of ours may hold, with fragmentation negotiated; 0
// (never fragment) without.
size_t fragment_budget(const Context& ctx, const IkeSa& sa) {
  if (!sa.fragmentation) return 0;
  const bool marker = ctx.nat.port != 0 && sa.local.port == ctx.nat.port;
  return std::max<size_t>(
      ike_message_budget(sa.config->fragment_size, sa.remote.addr.family == Family::V6, marker), 1);
}

Result<std::vector<Bytes>> seal_for_peer(Context& ctx, IkeSa& sa, const wire::Header& h,
                                         const std::vector<wire::Payload>& payloads) {
  return seal_fragments(h, payloads, *sa.out_cipher, fragment_budget(ctx, sa));
}

}  // namespace

Result<void> send_sk_request(Context& ctx, IkeSa& sa, wire::ExchangeType exchange,
                             const std::vector<wire::Payload>& payloads) {
  auto datagrams =
      seal_for_peer(ctx, sa, make_header(sa, exchange, false, sa.next_request_mid), payloads);
  if (!datagrams) return fail(datagrams.error());
  send_request(ctx, sa, std::move(*datagrams));
  return ok();
}

Result<void> send_sk_response(Context& ctx, IkeSa& sa, wire::ExchangeType exchange,
                              uint32_t message_id, const std::vector<wire::Payload>& payloads) {
  auto datagrams = seal_for_peer(ctx, sa, make_header(sa, exchange, true, message_id), payloads);
  if (!datagrams) return fail(datagrams.error());
  send_response(ctx, sa, message_id, std::move(*datagrams));
  return ok();
}

// The one key schedule of an IKE SA (§2.14), for IKE_SA_INIT and for rekeys alike: SK_d,
// SK_a and SK_e from SKEYSEED, the SA's nonces and SPIs, and the SK ciphers of each
// direction.
Result<void> install_ike_keys(IkeSa& sa, const SecretBytes& skeyseed) {
  const Bytes spi_i = spi_bytes(sa.spi_i), spi_r = spi_bytes(sa.spi_r);
  const crypto::IkeKeyLengths len{crypto::sk_encr_key_size(sa.algs.sk),
                                  crypto::sk_integ_key_size(sa.algs.sk.integ)};
  auto keys = crypto::derive_ike_sa_keys(sa.algs.prf, skeyseed, {sa.ni, sa.nr, spi_i, spi_r}, len);
  if (!keys) return fail(keys.error());
  sa.keys = std::move(*keys);
  const auto& k = sa.keys;
  auto out = crypto::make_sk_cipher(sa.algs.sk, sa.initiator ? k.sk_ei : k.sk_er,
                                    sa.initiator ? k.sk_ai : k.sk_ar);
  auto in = crypto::make_sk_cipher(sa.algs.sk, sa.initiator ? k.sk_er : k.sk_ei,
                                   sa.initiator ? k.sk_ar : k.sk_ai);
  if (!out) return fail(out.error());
  if (!in) return fail(in.error());
  sa.out_cipher = std::move(*out);
  sa.in_cipher = std::move(*in);
  return ok();
}

Result<void> derive_ike_keys(IkeSa& sa, ByteView peer_public) {
  auto g_ir = sa.ke->shared_secret(peer_public);
  if (!g_ir) return fail(g_ir.error());
  sa.ke.reset();
  auto seed = crypto::skeyseed(sa.algs.prf, sa.ni, sa.nr, *g_ir);
  if (!seed) return fail(seed.error());
  return install_ike_keys(sa, *seed);
}

}  // namespace ipsec::ike::v2
