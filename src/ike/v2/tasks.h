// SPDX-License-Identifier: Apache-2.0
// The exchanges we initiate, as tasks (RFC 7296 §1.2-§1.5): each kind of request has a
// build step, which sends our request, and a process step, which reads the response the
// receive path opened and says what became of the task. The request queue
// (request_queue.cpp) runs them one at a time (§2.3: window size 1).
#pragma once

#include "ike/v2/ike_sa.h"
#include "ike/v2/inbound.h"

namespace ipsec::ike::v2 {

enum class Step {
  Done,      // the exchange is complete; the window is free for the next request
  NeedMore,  // the task sent another round of itself and waits for its answer (COOKIE,
             // INVALID_KE_PAYLOAD; EAP rounds and IKE_INTERMEDIATE go here)
  Failed,    // the exchange failed (the IKE SA or the request, as the task said)
  Waiting,   // the response cannot be judged yet (OCSP answers are being fetched): the
             // request stays in flight and the engine processes the response again later
};

struct Task {
  Request kind;
  wire::ExchangeType exchange;
  // Sends the request (sets sa.in_flight, arms retransmission); a failure is the task's
  // to record (fail_sa, child_request_failed).
  void (*build)(Context& ctx, IkeSa& sa, QueuedRequest request);
  Step (*process)(Context& ctx, IkeSa& sa, const Inbound& in);
};

// The task of every request kind.
const Task& task_for(Request kind);

// Runs the task of `request` now: the window must be free.
void run_task(Context& ctx, IkeSa& sa, QueuedRequest request);

// The response to our request in flight, already opened: its task processes it; after
// Done or Failed the next queued request goes out.
void on_task_response(Context& ctx, IkeSa& sa, const Inbound& in);

// The process steps, one per exchange file.
Step process_sa_init_response(Context& ctx, IkeSa& sa, const Inbound& in);
Step process_auth_response(Context& ctx, IkeSa& sa, const Inbound& in);
Step process_create_child_response(Context& ctx, IkeSa& sa, const Inbound& in);
Step process_informational_response(Context& ctx, IkeSa& sa, const Inbound& in);

}  // namespace ipsec::ike::v2
