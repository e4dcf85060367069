// An in-memory kernel: accepts SAs and policies like XFRM does (same identity
// rules, same EEXIST/ENOENT answers) without doing ESP. Used by unit and
// engine tests, and by the benchmark's load generator.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "kernel/kernel.h"

namespace ipsec::kernel {

class MemoryKernel final : public Kernel {
 public:
  MemoryKernel();
  ~MemoryKernel() override;

  Result<uint32_t> alloc_spi(const SpiRequest& req) override;
  Result<void> add_sa(const SaParams& sa) override;
  Result<void> update_sa(const SaParams& sa) override;
  Result<void> delete_sa(const SaId& id) override;
  Result<SaParams> get_sa(const SaId& id) override;
  Result<std::vector<SaParams>> dump_sas() override;
  Result<void> flush_sas() override;

  Result<void> add_policy(const PolicyParams& p) override;
  Result<void> update_policy(const PolicyParams& p) override;
  Result<void> delete_policy(const PolicyId& id) override;
  Result<PolicyParams> get_policy(const PolicyId& id) override;
  Result<std::vector<PolicyParams>> dump_policies() override;
  Result<void> flush_policies() override;

  Result<SadInfo> sad_info() override;
  Result<SpdInfo> spd_info() override;
  std::vector<Result<void>> apply_batch(std::span<const Op> ops) override;
  Result<std::unique_ptr<EventSource>> subscribe(uint32_t groups) override;

  // Test hooks: make the next operation whose description contains
  // `needle` fail with `code` (once), as a kernel refusing an object would.
  void fail_next(std::string needle, int code);
  // Announce an event to subscribers, as the kernel would (ACQUIRE, EXPIRE...).
  void inject(const Event& event);

 private:
  struct Subscriber;
  Result<void> check_injected_failure(const std::string& what);
  void publish(uint32_t group, const Event& event);

  std::vector<SaParams> sas_;            // insertion order, like a dump
  std::vector<PolicyParams> policies_;
  uint32_t next_spi_ = 0xc0000000;
  uint32_t next_index_ = 8;
  std::string fail_needle_;
  int fail_code_ = 0;
  std::vector<Subscriber*> subscribers_;
  friend struct Subscriber;
};

}  // namespace ipsec::kernel
