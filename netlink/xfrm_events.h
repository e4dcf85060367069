// SPDX-License-Identifier: Apache-2.0
// Kernel events from the XFRM multicast groups (ACQUIRE, EXPIRE, POLEXPIRE,
// SA and policy changes, MAPPING), parsed into kernel::Event.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "kernel/kernel.h"

namespace ipsec::netlink {

class NlSocket;

class XfrmEventSource final : public kernel::EventSource {
 public:
  // groups: kernel::EventGroup bits. Joins the matching XFRMNLGRP_* groups.
  static Result<std::unique_ptr<XfrmEventSource>> open(uint32_t groups);
  ~XfrmEventSource() override;

  int fd() const override;
  // Everything waiting, without blocking. When the kernel dropped events
  // (ENOBUFS), the error comes after the events read before it: the caller
  // then resynchronizes with dumps.
  Result<std::vector<kernel::Event>> read() override;

  // Messages that could not be parsed and were skipped.
  uint64_t malformed() const { return malformed_; }

 private:
  XfrmEventSource(std::unique_ptr<NlSocket> sock, uint32_t groups);
  void take(std::span<const uint8_t> datagram, std::vector<kernel::Event>& out);

  std::unique_ptr<NlSocket> sock_;
  uint32_t groups_;
  std::vector<uint8_t> rx_;
  bool overflow_pending_ = false;
  uint64_t malformed_ = 0;
};

}  // namespace ipsec::netlink
