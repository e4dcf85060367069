// SPDX-License-Identifier: Apache-2.0
// Our requests on one IKE SA, run one at a time as tasks (tasks.h; RFC 7296 §2.3: window
// size 1): the table of tasks, a queue of what waits for the window, and requests
// postponed after TEMPORARY_FAILURE (§2.25). IKE_SA_INIT and IKE_AUTH are tasks too: the
// first IKE_AUTH is queued by IKE_SA_INIT's process step.
#include <iterator>

#include "ike/v2/exchanges.h"
#include "ike/v2/tasks.h"

namespace ipsec::ike::v2 {
namespace {

using wire::ExchangeType;

void build_sa_init(Context& ctx, IkeSa& sa, QueuedRequest) {
  if (auto r = start_sa_init(ctx, sa); !r) fail_sa(sa, "IKE_SA_INIT: " + r.error().message);
}
void build_auth(Context& ctx, IkeSa& sa, QueuedRequest) {
  if (auto r = start_auth(ctx, sa); !r) fail_sa(sa, "IKE_AUTH: " + r.error().message);
}

// Indexed by Request.
constexpr Task kTasks[] = {
    {Request::SaInit, ExchangeType::IkeSaInit, build_sa_init, process_sa_init_response},
    {Request::Auth, ExchangeType::IkeAuth, build_auth, process_auth_response},
    {Request::Liveness, ExchangeType::Informational, send_informational,
     process_informational_response},
    {Request::DeleteChild, ExchangeType::Informational, send_informational,
     process_informational_response},
    {Request::DeleteIke, ExchangeType::Informational, send_informational,
     process_informational_response},
    {Request::CreateChild, ExchangeType::CreateChildSa, send_create, process_create_child_response},
    {Request::RekeyChild, ExchangeType::CreateChildSa, send_create, process_create_child_response},
    {Request::RekeyIke, ExchangeType::CreateChildSa, send_create, process_create_child_response},
};

constexpr bool indexed_by_kind() {
  for (size_t i = 0; i < std::size(kTasks); ++i)
    if (static_cast<size_t>(kTasks[i].kind) != i) return false;
  return std::size(kTasks) == static_cast<size_t>(Request::RekeyIke) + 1;
}
static_assert(indexed_by_kind(), "kTasks must list every Request, in order");

// The SA can carry the request: IKE_AUTH right after IKE_SA_INIT, the others once it is up.
bool can_carry(const IkeSa& sa, Request kind) {
  if (kind == Request::Auth) return sa.state == IkeState::SaInitSent;
  return sa.state == IkeState::Established || sa.state == IkeState::Deleting;
}

Millis retry_delay(crypto::RandomSource& random) {
  auto r = random.below(4000, crypto::RandomUse::Jitter);
  return Millis(1000 + static_cast<int64_t>(r ? *r : 0));  // 1 to 5 s
}

}  // namespace

const Task& task_for(Request kind) { return kTasks[static_cast<size_t>(kind)]; }

void run_task(Context& ctx, IkeSa& sa, QueuedRequest request) {
  task_for(request.kind).build(ctx, sa, request);
}

void on_task_response(Context& ctx, IkeSa& sa, const Inbound& in) {
  sa.awaiting_response = false;
  const Step step = task_for(sa.in_flight.kind).process(ctx, sa, in);
  if (step == Step::Waiting) {
    sa.awaiting_response = true;  // still retransmitted until the response is judged
    return;
  }
  if (step != Step::NeedMore) send_queued(ctx, sa);
}

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
  while (!sa.awaiting_response && !sa.queued.empty() && can_carry(sa, sa.queued.front().kind)) {
    const QueuedRequest next = sa.queued.front();
    sa.queued.erase(sa.queued.begin());
    run_task(ctx, sa, next);  // may decide there is nothing to send (a rekey of a gone SA)
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
