// SPDX-License-Identifier: Apache-2.0
// An engine's SAs by our SPI, version-neutral (IKEv2's IkeSa today, IKEv1's phase 1 SAs
// next), with the bookkeeping that keeps timers off the table walk: entry points touch the
// SAs they changed, and only those are reaped and rescheduled; each SA's next deadline
// sits in a TimerSet; the half-open ones (a responder waiting for authentication, counted
// for RFC 7296 §2.6 cookies) are kept apart so that counting them is O(1).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "ike/io.h"
#include "ike/timers.h"

namespace ipsec::ike {

template <class Sa>
class SaTable {
 public:
  using Map = std::map<uint64_t, std::unique_ptr<Sa>>;

  typename Map::iterator find(uint64_t spi) { return sas_.find(spi); }
  typename Map::const_iterator find(uint64_t spi) const { return sas_.find(spi); }
  Sa* get(uint64_t spi) const {
    auto it = sas_.find(spi);
    return it == sas_.end() ? nullptr : it->second.get();
  }
  size_t count(uint64_t spi) const { return sas_.count(spi); }
  size_t size() const { return sas_.size(); }
  typename Map::iterator begin() { return sas_.begin(); }
  typename Map::iterator end() { return sas_.end(); }
  typename Map::const_iterator begin() const { return sas_.begin(); }
  typename Map::const_iterator end() const { return sas_.end(); }

  // Adds an SA under our SPI, touched.
  void add(uint64_t spi, std::unique_ptr<Sa> sa) {
    touch(spi);
    sas_.emplace(spi, std::move(sa));
  }
  // Removes one; its timer and half-open mark go at the next reschedule().
  void erase(typename Map::iterator it) {
    touch(it->first);
    sas_.erase(it);
  }

  void touch(uint64_t spi) { dirty_.push_back(spi); }
  void touch_all() {
    for (const auto& e : sas_) touch(e.first);
  }
  // The SPIs touched since the last reschedule(), sorted, each once (a copy: reaping may
  // touch more).
  std::vector<uint64_t> touched() {
    std::sort(dirty_.begin(), dirty_.end());
    dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
    return dirty_;
  }
  // Every touched SPI: a removed SA loses its timer and half-open mark; a present one gets
  // deadline(sa) (std::optional<Millis>) and half_open(sa) (bool).
  template <class Deadline, class HalfOpen>
  void reschedule(const Deadline& deadline, const HalfOpen& half_open) {
    for (uint64_t spi : dirty_) {
      const Sa* sa = get(spi);
      if (sa == nullptr) {
        timers_.clear(spi);
        half_open_.erase(spi);
        continue;
      }
      if (half_open(*sa))
        half_open_.insert(spi);
      else
        half_open_.erase(spi);
      timers_.set(spi, deadline(*sa));
    }
    dirty_.clear();
  }

  // The SPIs whose deadline has come (their timer is cleared; touch them to rearm).
  std::vector<uint64_t> take_due(Millis now) { return timers_.take_due(now); }
  std::optional<Millis> next_timer() const { return timers_.next(); }
  const std::set<uint64_t>& half_open() const { return half_open_; }

 private:
  Map sas_;
  std::vector<uint64_t> dirty_;
  std::set<uint64_t> half_open_;
  TimerSet timers_;
};

}  // namespace ipsec::ike
