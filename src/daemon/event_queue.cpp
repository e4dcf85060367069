// SPDX-License-Identifier: Apache-2.0
// Engine events from the worker threads to the main thread.
#include "daemon/event_queue.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

namespace ipsec::daemon {

control::Event to_control(const ike::EngineEvent& e, int64_t epoch_seconds) {
  control::Event out;
  out.event = std::string(ike::to_string(e.kind));
  out.time = control::utc_time(epoch_seconds);
  out.connection = e.connection;
  out.child = e.child;
  out.ike_spi = e.ike_spi;
  out.old_ike_spi = e.old_ike_spi;
  out.spi_in = e.spi_in;
  out.spi_out = e.spi_out;
  out.old_spi_in = e.old_spi_in;
  out.reason = e.reason;
  out.detail = e.detail;
  return out;
}

Result<void> EventQueue::open() {
  efd_ = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!efd_.valid()) return fail(std::string("eventfd: ") + std::strerror(errno), errno);
  return ok();
}

void EventQueue::signal() {
  uint64_t one = 1;
  // EAGAIN: the counter is saturated, so the fd is readable anyway.
  [[maybe_unused]] ssize_t n = ::write(efd_.get(), &one, sizeof one);
}

void EventQueue::push(const ike::EngineEvent& e) {
  if (!listening_.load(std::memory_order_relaxed)) return;
  control::Event c = to_control(e, static_cast<int64_t>(::time(nullptr)));
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(c));
  }
  signal();
}

std::vector<control::Event> EventQueue::take(size_t max, uint64_t& dropped) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(efd_.get(), &count, sizeof count);
  std::vector<control::Event> out;
  bool more = false;
  {
    std::lock_guard lock(mutex_);
    while (!queue_.empty() && out.size() < max) {
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    more = !queue_.empty();
    dropped = dropped_;
    dropped_ = 0;
  }
  if (more) signal();  // the rest on the next wakeup
  return out;
}

}  // namespace ipsec::daemon
