// SPDX-License-Identifier: Apache-2.0
// Engine events on their way from the worker threads to the main thread (`ipsecctl
// monitor`): a bounded, locked queue and an eventfd that wakes the main epoll loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "control/protocol.h"
#include "daemon/fd.h"
#include "ike/events.h"

namespace ipsec::daemon {

class EventQueue {
 public:
  // Events beyond this wait for the main thread are dropped (and counted): a burst of
  // thousands of SAs going down must not grow the daemon without bound.
  static constexpr size_t kMaxQueued = 8192;

  Result<void> open();  // the eventfd
  int fd() const { return efd_.get(); }

  // Only while someone listens is anything queued (the workers' cost is one atomic load).
  void set_listening(bool on) { listening_.store(on, std::memory_order_relaxed); }

  // Any thread: stamps the event with the wall clock, queues it and wakes the reader.
  void push(const ike::EngineEvent& e);
  // Main thread, after epoll said fd() is readable: at most `max` events, oldest first;
  // when more wait, fd() stays readable. `dropped`: events lost to kMaxQueued since the
  // last call.
  std::vector<control::Event> take(size_t max, uint64_t& dropped);

 private:
  void signal();

  Fd efd_;
  std::atomic<bool> listening_{false};
  std::mutex mutex_;
  std::deque<control::Event> queue_;
  uint64_t dropped_ = 0;
};

// The protocol's event for an engine event that happened at `epoch_seconds`.
control::Event to_control(const ike::EngineEvent& e, int64_t epoch_seconds);

}  // namespace ipsec::daemon
