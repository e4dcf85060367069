// SPDX-License-Identifier: Apache-2.0
// One kernel::Kernel shared by several worker threads: every call under one mutex.
// For --memory-kernel, whose MemoryKernel is a single in-memory table; the netlink
// kernel is not shared (each worker opens its own socket).
#pragma once

#include <memory>
#include <mutex>

#include "kernel/kernel.h"

namespace ipsec::daemon {

// The kernel itself and the mutex every LockedKernel over it takes.
struct SharedKernel {
  explicit SharedKernel(std::unique_ptr<kernel::Kernel> k) : kernel(std::move(k)) {}
  std::mutex mutex;
  std::unique_ptr<kernel::Kernel> kernel;
};

class LockedKernel final : public kernel::Kernel {
 public:
  explicit LockedKernel(std::shared_ptr<SharedKernel> shared) : shared_(std::move(shared)) {}

  Result<uint32_t> alloc_spi(const kernel::SpiRequest& req) override;
  Result<void> add_sa(const kernel::SaParams& sa) override;
  Result<void> update_sa(const kernel::SaParams& sa) override;
  Result<void> delete_sa(const kernel::SaId& id) override;
  Result<kernel::SaParams> get_sa(const kernel::SaId& id) override;
  Result<std::vector<kernel::SaParams>> dump_sas() override;
  Result<void> flush_sas() override;
  Result<void> add_policy(const kernel::PolicyParams& p) override;
  Result<void> update_policy(const kernel::PolicyParams& p) override;
  Result<void> delete_policy(const kernel::PolicyId& id) override;
  Result<kernel::PolicyParams> get_policy(const kernel::PolicyId& id) override;
  Result<std::vector<kernel::PolicyParams>> dump_policies() override;
  Result<void> flush_policies() override;
  Result<kernel::SadInfo> sad_info() override;
  Result<kernel::SpdInfo> spd_info() override;
  std::vector<Result<void>> apply_batch(std::span<const kernel::Op> ops) override;
  Result<std::unique_ptr<kernel::EventSource>> subscribe(uint32_t groups) override;

 private:
  std::shared_ptr<SharedKernel> shared_;
};

}  // namespace ipsec::daemon
