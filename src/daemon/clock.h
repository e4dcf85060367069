// SPDX-License-Identifier: Apache-2.0
// The engine's clock in the daemon: CLOCK_MONOTONIC, the clock the timerfd runs on.
#pragma once

#include <time.h>

#include "ike/io.h"

namespace ipsec::daemon {

class MonotonicClock final : public ike::Clock {
 public:
  ike::Millis now() const override {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ike::Millis(static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000);
  }
};

}  // namespace ipsec::daemon
