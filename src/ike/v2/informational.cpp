// SPDX-License-Identifier: Apache-2.0
// INFORMATIONAL exchanges (RFC 7296 §1.4, §1.5): Delete of the IKE SA, Delete of
// CHILD SAs, liveness; initiated by either side of the IKE SA.
//
//   HDR, SK {D(IKE)}                -->
//                                   <--  HDR, SK {}
//   HDR, SK {D(ESP, SPIin of ours)} -->
//                                   <--  HDR, SK {D(ESP, SPIin of the peer)}
//   HDR, SK {}                      -->
//                                   <--  HDR, SK {}
#include "common/log.h"
#include "ike/v2/exchanges.h"
#include "ike/v2/sk_message.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;

wire::DeletePayload delete_ike() { return wire::DeletePayload{wire::ProtocolId::Ike, 0, {}}; }

wire::DeletePayload delete_esp(uint32_t spi) {
  return wire::DeletePayload{wire::ProtocolId::Esp, 4, {esp_spi_bytes(spi)}};
}

std::string_view request_name(Request r) {
  switch (r) {
    case Request::Liveness:
      return "liveness check";
    case Request::DeleteChild:
      return "Delete of a CHILD SA";
    case Request::DeleteIke:
      return "Delete of the IKE SA";
    default:
      return "request";
  }
}

// A CHILD SA the peer deleted: when it had been rekeyed (by either side), its successor's
// outbound SA, if still waiting, goes in now; otherwise it is a close (close_action).
void peer_deleted_child(Context& ctx, IkeSa& sa, ChildSa& c) {
  const uint32_t successor = c.replaced_by;
  // Make-before-break: the successor's outbound SA goes in before the old one is removed;
  // a packet sent in between would find no SA (dropped, XfrmOutNoStates, an ACQUIRE).
  if (successor != 0)
    if (ChildSa* next = sa.child(successor)) {
      if (auto r = install_pending_outbound(ctx, sa, *next); !r)
        log::error(label(sa) + ": installing the rekeyed outbound SA: " + r.error().message);
      if (next->announce_later) announce_child(ctx, sa, *next);  // the peer's rekey stood
    }
  remove_child(ctx, sa, c, successor ? "rekeyed" : "deleted by peer");
  ++ctx.counters.child_deleted;
}

// The peer deletes CHILD SAs by their SPIs as we send to them (§1.4.1); returns
// our inbound SPIs of those we removed.
std::vector<uint32_t> delete_children(Context& ctx, IkeSa& sa, const wire::DeletePayload& d,
                                      bool& closed_any) {
  std::vector<uint32_t> ours;
  if (d.protocol != wire::ProtocolId::Esp || d.spi_size != 4) return ours;
  for (const auto& spi : d.spis) {
    const uint32_t out = esp_spi_value(spi);
    for (auto& c : sa.children) {
      if (!child_in_kernel(c) || c.spi_out != out) continue;
      ours.push_back(c.spi_in);
      closed_any = closed_any || !c.superseded();
      // A rekey of ours may still be under way for it: its response will find it gone.
      peer_deleted_child(ctx, sa, c);
      break;
    }
  }
  return ours;
}

}  // namespace

void send_informational(Context& ctx, IkeSa& sa, QueuedRequest request) {
  std::vector<wire::Payload> payloads;
  if (request.kind == Request::DeleteIke) payloads.push_back(delete_ike());
  if (request.kind == Request::DeleteChild) payloads.push_back(delete_esp(request.child_spi));
  sa.in_flight = request;
  if (auto r = send_sk_request(ctx, sa, ExchangeType::Informational, payloads); !r)
    return fail_sa(sa, "INFORMATIONAL request: " + r.error().message);
  log::debug(label(sa) +
             ": INFORMATIONAL request sent: " + std::string(request_name(request.kind)) +
             (request.child_spi ? " " + esp_spi_str(request.child_spi) : std::string()));
}

void close_sa(Context& ctx, IkeSa& sa, std::string reason) {
  remove_children(ctx, sa, reason);
  sa.queued.clear();
  sa.delayed.clear();
  sa.creating.reset();
  sa.awaiting_response = false;
  sa.close_reason = std::move(reason);
  sa.state = sa.failure.empty() ? IkeState::Closed : IkeState::Failed;
  ++ctx.counters.ike_deleted;
  log::info(label(sa) + ": IKE SA closed: " + sa.close_reason);
}

void start_informational(Context& ctx, IkeSa& sa, QueuedRequest request) {
  if (request.kind == Request::DeleteIke) {
    // §1.4.1: deleting the IKE SA deletes every CHILD SA it negotiated.
    remove_children(ctx, sa, sa.close_reason.empty() ? "deleted by us" : sa.close_reason);
    sa.state = IkeState::Deleting;
    if (sa.close_reason.empty()) sa.close_reason = "deleted by us";
    sa.queued.clear();
    sa.delayed.clear();
  }
  enqueue(ctx, sa, request);
}

void fail_and_delete(Context& ctx, IkeSa& sa, std::string failure) {
  if (sa.out_cipher == nullptr) return fail_sa(sa, std::move(failure));
  sa.failure = std::move(failure);
  log::error(label(sa) + ": " + sa.failure + "; deleting the IKE SA");
  sa.close_reason = "deleted after failure";
  start_informational(ctx, sa, {Request::DeleteIke, 0});
}

void respond_informational(Context& ctx, IkeSa& sa, const Inbound& in) {
  const auto* inner = &in.inner;
  bool ike = false, closed_child = false;
  std::vector<uint32_t> removed;
  for (const auto& p : *inner) {
    const auto* d = std::get_if<wire::DeletePayload>(&p);
    if (d == nullptr) continue;
    ike = ike || d->protocol == wire::ProtocolId::Ike;
    if (ike) continue;
    for (uint32_t spi : delete_children(ctx, sa, *d, closed_child)) removed.push_back(spi);
  }
  std::vector<wire::Payload> out;
  if (!removed.empty() && !ike) {
    wire::DeletePayload d{wire::ProtocolId::Esp, 4, {}};
    for (uint32_t spi : removed) d.spis.push_back(esp_spi_bytes(spi));
    out.push_back(d);
  }
  if (auto r = send_sk_response(ctx, sa, ExchangeType::Informational, in.message_id(), out); !r)
    return fail_sa(sa, "INFORMATIONAL response: " + r.error().message);
  if (ike) {
    const bool had_children = std::any_of(sa.children.begin(), sa.children.end(),
                                          [](const ChildSa& c) { return child_in_kernel(c); });
    const bool rekeyed = sa.superseded();
    close_sa(ctx, sa, rekeyed ? "rekeyed" : "deleted by peer");
    if (had_children && !rekeyed && ctx.engine) ctx.engine->peer_gone(*sa.config, false);
    return;
  }
  forget_deleted_children(sa);
  if (inner->empty()) ++ctx.counters.liveness_answered;
  log::info(label(sa) + ": INFORMATIONAL answered" +
            (removed.empty() ? std::string() : ", CHILD SA deleted by peer"));
  if (closed_child && ctx.engine &&
      std::none_of(sa.children.begin(), sa.children.end(), [](const ChildSa& c) {
        return child_in_kernel(c) || c.state == ChildState::None;
      }))
    ctx.engine->peer_gone(*sa.config, false);
}

Step process_informational_response(Context& ctx, IkeSa& sa, const Inbound&) {
  sa.dpd_give_up = Millis{0};
  const QueuedRequest done = sa.in_flight;
  if (done.kind == Request::DeleteIke) {
    close_sa(ctx, sa, sa.close_reason);
    return Step::Done;
  }
  if (done.kind == Request::DeleteChild)
    if (ChildSa* c = sa.child(done.child_spi); c && child_in_kernel(*c)) {
      remove_child(ctx, sa, *c, c->superseded() ? "rekeyed" : "deleted by us");
      ++ctx.counters.child_deleted;
    }
  forget_deleted_children(sa);
  log::info(label(sa) + ": INFORMATIONAL done: " + std::string(request_name(done.kind)));
  return Step::Done;
}

}  // namespace ipsec::ike::v2
