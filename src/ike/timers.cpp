// SPDX-License-Identifier: Apache-2.0
#include "ike/timers.h"

namespace ipsec::ike {

bool TimerSet::stale(const Due& d) const {
  auto it = due_.find(d.second);
  return it == due_.end() || it->second != d.first;
}

void TimerSet::set(uint64_t spi, std::optional<Millis> at) {
  if (!at) {
    due_.erase(spi);
    return;
  }
  auto [pos, fresh] = due_.try_emplace(spi, *at);
  if (!fresh && pos->second == *at) return;
  pos->second = *at;
  heap_.emplace(*at, spi);
}

std::vector<uint64_t> TimerSet::take_due(Millis now) {
  std::vector<uint64_t> out;
  while (!heap_.empty() && heap_.top().first <= now) {
    const Due d = heap_.top();
    heap_.pop();
    if (stale(d)) continue;
    due_.erase(d.second);
    out.push_back(d.second);
  }
  return out;
}

std::optional<Millis> TimerSet::next() const {
  while (!heap_.empty() && stale(heap_.top())) heap_.pop();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().first;
}

}  // namespace ipsec::ike
