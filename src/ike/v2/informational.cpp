// INFORMATIONAL exchanges (RFC 7296 §1.4, §1.5): Delete of the IKE SA, Delete of
// the CHILD SA, liveness; initiated by either side of the IKE SA.
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
      return "Delete of the CHILD SA";
    case Request::DeleteIke:
      return "Delete of the IKE SA";
    default:
      return "request";
  }
}

void send_now(Context &ctx, IkeSa &sa, QueuedRequest request) {
  std::vector<wire::Payload> payloads;
  if (request.kind == Request::DeleteIke) payloads.push_back(delete_ike());
  if (request.kind == Request::DeleteChild) payloads.push_back(delete_esp(request.child_spi));
  sa.in_flight = request;
  if (auto r = send_sk_request(ctx, sa, ExchangeType::Informational, payloads); !r)
    return fail_sa(sa, "INFORMATIONAL request: " + r.error().message);
  log::debug(label(sa) + ": INFORMATIONAL request sent: " +
             std::string(request_name(request.kind)));
}

// The peer deletes CHILD SAs by their SPIs as we send to them (§1.4.1); returns
// our inbound SPIs of those we removed.
std::vector<uint32_t> delete_children(Context &ctx, IkeSa &sa, const wire::DeletePayload &d) {
  std::vector<uint32_t> ours;
  if (d.protocol != wire::ProtocolId::Esp || d.spi_size != 4) return ours;
  for (const auto &spi : d.spis) {
    if (sa.child.state != ChildState::Installed || esp_spi_value(spi) != sa.child.spi_out)
      continue;
    ours.push_back(sa.child.spi_in);
    remove_child(ctx, sa);
    ++ctx.counters.child_deleted;
  }
  return ours;
}

// Removes the IKE SA and everything it owns; the engine drops it from its table.
void close_sa(Context &ctx, IkeSa &sa, std::string reason) {
  remove_child(ctx, sa);
  sa.queued.clear();
  sa.awaiting_response = false;
  sa.close_reason = std::move(reason);
  sa.state = sa.failure.empty() ? IkeState::Closed : IkeState::Failed;
  ++ctx.counters.ike_deleted;
  log::info(label(sa) + ": IKE SA closed: " + sa.close_reason);
}

}  // namespace

void start_informational(Context &ctx, IkeSa &sa, QueuedRequest request) {
  if (request.kind == Request::DeleteIke) {
    // §1.4.1: deleting the IKE SA deletes every CHILD SA it negotiated.
    remove_child(ctx, sa);
    sa.state = IkeState::Deleting;
    if (sa.close_reason.empty()) sa.close_reason = "deleted by us";
    sa.queued.clear();
  }
  sa.queued.push_back(request);
  send_queued(ctx, sa);
}

void send_queued(Context &ctx, IkeSa &sa) {
  if (sa.awaiting_response || sa.queued.empty()) return;
  if (sa.state != IkeState::Established && sa.state != IkeState::Deleting) return;
  const QueuedRequest next = sa.queued.front();
  sa.queued.erase(sa.queued.begin());
  send_now(ctx, sa, next);
}

void fail_and_delete(Context &ctx, IkeSa &sa, std::string failure) {
  if (sa.out_cipher == nullptr) return fail_sa(sa, std::move(failure));
  sa.failure = std::move(failure);
  log::error(label(sa) + ": " + sa.failure + "; deleting the IKE SA");
  sa.close_reason = "deleted after failure";
  start_informational(ctx, sa, {Request::DeleteIke, 0});
}

void respond_informational(Context &ctx, IkeSa &sa, ByteView datagram, const wire::Message &m) {
  auto inner = open_message(datagram, m, *sa.in_cipher);
  if (!inner) {
    ++ctx.counters.dropped_integrity;
    log::warn(label(sa) + ": INFORMATIONAL request dropped: " + inner.error().message);
    return;
  }
  bool ike = false;
  std::vector<uint32_t> removed;
  for (const auto &p : *inner) {
    const auto *d = std::get_if<wire::DeletePayload>(&p);
    if (d == nullptr) continue;
    ike = ike || d->protocol == wire::ProtocolId::Ike;
    for (uint32_t spi : delete_children(ctx, sa, *d)) removed.push_back(spi);
  }
  std::vector<wire::Payload> out;
  if (!removed.empty() && !ike) {
    wire::DeletePayload d{wire::ProtocolId::Esp, 4, {}};
    for (uint32_t spi : removed) d.spis.push_back(esp_spi_bytes(spi));
    out.push_back(d);
  }
  if (auto r = send_sk_response(ctx, sa, ExchangeType::Informational, m.header.message_id, out);
      !r)
    return fail_sa(sa, "INFORMATIONAL response: " + r.error().message);
  if (ike) return close_sa(ctx, sa, "deleted by peer");
  if (inner->empty()) ++ctx.counters.liveness_answered;
  log::info(label(sa) + ": INFORMATIONAL answered" +
            (removed.empty() ? std::string() : ", CHILD SA deleted by peer"));
}

void process_informational_response(Context &ctx, IkeSa &sa, ByteView datagram,
                                    const wire::Message &m) {
  auto inner = open_message(datagram, m, *sa.in_cipher);
  if (!inner) {
    ++ctx.counters.dropped_integrity;
    log::warn(label(sa) + ": INFORMATIONAL response dropped: " + inner.error().message);
    return;  // keep retransmitting
  }
  sa.awaiting_response = false;
  const QueuedRequest done = sa.in_flight;
  if (done.kind == Request::DeleteIke) return close_sa(ctx, sa, sa.close_reason);
  if (done.kind == Request::DeleteChild && sa.child.state == ChildState::Installed &&
      sa.child.spi_in == done.child_spi) {
    remove_child(ctx, sa);
    ++ctx.counters.child_deleted;
  }
  log::info(label(sa) + ": INFORMATIONAL done: " + std::string(request_name(done.kind)));
  send_queued(ctx, sa);
}

}  // namespace ipsec::ike::v2
