// SPDX-License-Identifier: Apache-2.0
// The timers of an engine's SAs, version-neutral: at most one deadline per SA (its SPI),
// kept in a heap of (deadline, SPI) so that neither running the due ones nor finding the
// next one walks the SA table. Changing or clearing a deadline leaves the old heap entry
// behind as stale; it is skipped when it comes up.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ike/io.h"

namespace ipsec::ike {

class TimerSet {
 public:
  // Sets (or, with nullopt, clears) the deadline of `spi`.
  void set(uint64_t spi, std::optional<Millis> at);
  void clear(uint64_t spi) { set(spi, std::nullopt); }
  // Removes and returns the SPIs whose deadline is at or before `now`, earliest first.
  std::vector<uint64_t> take_due(Millis now);
  // The earliest deadline, if any.
  std::optional<Millis> next() const;
  size_t size() const { return due_.size(); }

 private:
  using Due = std::pair<Millis, uint64_t>;
  bool stale(const Due& d) const;
  mutable std::priority_queue<Due, std::vector<Due>, std::greater<>> heap_;
  std::unordered_map<uint64_t, Millis> due_;  // the valid heap entry of each SPI
};

}  // namespace ipsec::ike
