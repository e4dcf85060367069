// SPDX-License-Identifier: Apache-2.0
// The real kernel: kernel::Kernel over XFRM netlink (libmnl), with batches
// sent many messages per send() and events from the XFRM multicast groups.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "kernel/kernel.h"

namespace ipsec::netlink {

class NlSocket;

class XfrmKernel final : public kernel::Kernel {
 public:
  // Opens a NETLINK_XFRM socket in the caller's network namespace.
  static Result<std::unique_ptr<XfrmKernel>> open();
  ~XfrmKernel() override;

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
  // Includes per-socket policies (PolicyParams::socket set).
  Result<std::vector<kernel::PolicyParams>> dump_policies() override;
  Result<void> flush_policies() override;

  Result<kernel::SadInfo> sad_info() override;
  Result<kernel::SpdInfo> spd_info() override;

  // Packs as many requests as fit (up to 256 KiB, and as many acks as the
  // receive buffer holds) into one send(), then matches the acks by seq. A
  // request without an ack fails with ENOBUFS (queue overflow) or ETIMEDOUT.
  std::vector<Result<void>> apply_batch(std::span<const kernel::Op> ops) override;

  // The returned source has its own socket; its read() never blocks.
  Result<std::unique_ptr<kernel::EventSource>> subscribe(uint32_t groups) override;

 private:
  explicit XfrmKernel(std::unique_ptr<NlSocket> sock);
  size_t fill_chunk(std::span<const kernel::Op> ops, size_t first,
                    std::vector<Result<void>>& results, size_t& bytes, bool& keys);
  void send_chunk(std::span<const kernel::Op> ops, size_t bytes, bool keys,
                  std::vector<Result<void>>& results);

  std::unique_ptr<NlSocket> sock_;
  std::vector<uint8_t> tx_;          // single requests
  std::vector<uint8_t> batch_;       // one chunk of a batch
  std::vector<uint32_t> chunk_ops_;  // message index in the chunk -> op index
};

}  // namespace ipsec::netlink
