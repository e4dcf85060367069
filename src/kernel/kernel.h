// SPDX-License-Identifier: Apache-2.0
// The kernel interface the engines and the CLI use. Implemented over netlink
// (netlink/) and in memory (memory_kernel.h). Errors are values whose message
// names the object: "adding SA spi 0x1000 192.0.2.1->192.0.2.2 esp: <cause>".
#pragma once

#include <memory>
#include <span>
#include <variant>
#include <vector>

#include "common/result.h"
#include "kernel/events.h"
#include "kernel/types.h"

namespace ipsec::kernel {

struct AddSa {
  SaParams sa;
};
struct UpdateSa {
  SaParams sa;
};
struct DeleteSa {
  SaId id;
};
struct AddPolicy {
  PolicyParams policy;
};
struct UpdatePolicy {
  PolicyParams policy;
};
struct DeletePolicy {
  PolicyId id;
};
using Op = std::variant<AddSa, UpdateSa, DeleteSa, AddPolicy, UpdatePolicy, DeletePolicy>;

std::string describe(const Op& op);  // "adding SA spi 0x1000 192.0.2.1->192.0.2.2 esp"

// A subscription to kernel events. fd() becomes readable when events wait;
// read() returns what is there without blocking (possibly nothing).
class EventSource {
 public:
  virtual ~EventSource() = default;
  virtual int fd() const = 0;
  virtual Result<std::vector<Event>> read() = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;

  virtual Result<uint32_t> alloc_spi(const SpiRequest& req) = 0;
  // Adds an SA; an SA whose SPI was allocated by alloc_spi (larval) is filled in.
  virtual Result<void> add_sa(const SaParams& sa) = 0;
  virtual Result<void> update_sa(const SaParams& sa) = 0;
  virtual Result<void> delete_sa(const SaId& id) = 0;
  virtual Result<SaParams> get_sa(const SaId& id) = 0;
  virtual Result<std::vector<SaParams>> dump_sas() = 0;
  virtual Result<void> flush_sas() = 0;  // every SA of every protocol

  virtual Result<void> add_policy(const PolicyParams& p) = 0;
  virtual Result<void> update_policy(const PolicyParams& p) = 0;
  virtual Result<void> delete_policy(const PolicyId& id) = 0;
  virtual Result<PolicyParams> get_policy(const PolicyId& id) = 0;
  virtual Result<std::vector<PolicyParams>> dump_policies() = 0;
  virtual Result<void> flush_policies() = 0;  // main policies (not per-socket ones)

  virtual Result<SadInfo> sad_info() = 0;
  virtual Result<SpdInfo> spd_info() = 0;

  // Carries out every op in order, as few system calls as possible, and
  // returns one result per op (same order). An op failing does not stop the
  // ones after it; callers that need all-or-nothing undo what succeeded.
  virtual std::vector<Result<void>> apply_batch(std::span<const Op> ops) = 0;

  // groups: a set of EventGroup bits.
  virtual Result<std::unique_ptr<EventSource>> subscribe(uint32_t groups) = 0;
};

}  // namespace ipsec::kernel
