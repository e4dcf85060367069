// SPDX-License-Identifier: Apache-2.0
// Our requests on one IKE SA, run one at a time (RFC 7296 §2.3: window size 1): a queue
// of what waits for the window, and requests postponed after TEMPORARY_FAILURE (§2.25).
// Each request is sent by its exchange: CREATE_CHILD_SA (create_child.cpp) or
// INFORMATIONAL (informational.cpp).
#include "ike/v2/exchanges.h"

namespace ipsec::ike::v2 {
namespace {

bool is_create(Request r) {
  return r == Request::CreateChild || r == Request::RekeyChild || r == Request::RekeyIke;
}

void send_now(Context& ctx, IkeSa& sa, QueuedRequest request) {
  if (is_create(request.kind)) return send_create(ctx, sa, request);
  send_informational(ctx, sa, request);
}

Millis retry_delay(crypto::RandomSource& random) {
  auto r = random.below(4000, crypto::RandomUse::Jitter);
  return Millis(1000 + static_cast<int64_t>(r ? *r : 0));  // 1 to 5 s
}

}  // namespace

void enqueue(Context& ctx, IkeSa& sa, QueuedRequest request) {
  auto same = [&](const QueuedRequest& q) {
    return q.kind == request.kind && q.child_spi == request.child_spi && q.child == request.child;
  };
  const bool in_flight = sa.awaiting_response && same(sa.in_flight);
  bool queued = false;
  for (const auto& q : sa.queued) queued = queued || same(q);
  for (const auto& d : sa.delayed) queued = queued || same(d.request);
  if (!in_flight && !queued) sa.queued.push_back(request);
  send_queued(ctx, sa);
}

void send_queued(Context& ctx, IkeSa& sa) {
  while (!sa.awaiting_response && !sa.queued.empty() &&
         (sa.state == IkeState::Established || sa.state == IkeState::Deleting)) {
    const QueuedRequest next = sa.queued.front();
    sa.queued.erase(sa.queued.begin());
    send_now(ctx, sa, next);  // may decide there is nothing to send (a rekey of a gone SA)
  }
}

void postpone(Context& ctx, IkeSa& sa, QueuedRequest request) {
  sa.delayed.push_back({ctx.clock.now() + retry_delay(*ctx.random), request});
}

void release_delayed(IkeSa& sa, Millis now) {
  for (auto it = sa.delayed.begin(); it != sa.delayed.end();) {
    if (now < it->at) {
      ++it;
      continue;
    }
    const QueuedRequest q = it->request;
    it = sa.delayed.erase(it);
    sa.queued.push_back(q);
  }
}

}  // namespace ipsec::ike::v2
