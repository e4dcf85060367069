// SPDX-License-Identifier: Apache-2.0
// An in-memory kernel: accepts SAs and policies like XFRM does (same identity
// rules, same EEXIST/ENOENT answers) without doing ESP. Used by unit and
// engine tests, and by the benchmark's load generator. Tests drive its
// lifecycle emulation (lifetimes, EXPIRE, ACQUIRE) with set_time, add_traffic,
// send and poll_expires: it has no clock or timer of its own.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
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

  // --- XFRM lifecycle emulation (net/xfrm/xfrm_state.c), driven by the test ---

  // An SPI from alloc_spi that is not filled in, and an ACQUIRE's state, live
  // this long (the kernel's net.core.xfrm_acq_expires default), then go with
  // a hard EXPIRE, as XFRM's larval (XFRM_STATE_ACQ) states do.
  static constexpr uint64_t kAcquireExpireSeconds = 30;
  // send() counts every packet it protects as this many bytes.
  static constexpr uint64_t kBytesPerPacket = 100;

  // The kernel's clock in seconds (like Counters::add_time; 0 until set).
  // add_sa stamps counters.add_time with it, the first traffic use_time.
  void set_time(uint64_t seconds) { now_ = seconds; }
  uint64_t time() const { return now_; }

  // Counts traffic on an SA as the kernel does (bytes, packets, use_time at
  // the first packet). Unknown ids and larval states: nothing happens.
  void add_traffic(const SaId& id, uint64_t bytes, uint64_t packets);

  // What the kernel's timers and limit checks would have announced by now:
  // per SA at most one soft EXPIRE (the SA is then "dying"), and for an SA
  // at a hard limit a hard EXPIRE (the soft one first if that limit was
  // reached too and not announced yet), after which the SA is gone. Larval
  // states (alloc_spi, ACQUIRE) hard-expire after kAcquireExpireSeconds.
  // Published to kGroupExpire subscribers and returned. Like the kernel's
  // EXPIRE message, an event's SaParams carries no algorithms, keys, encap,
  // extra flags or TFC padding, and is never marked larval.
  std::vector<ExpireEvent> poll_expires();

  enum class Fate { Protected, Held, Clear };
  struct Route {
    Fate fate = Fate::Clear;
    std::optional<SaId> sa;               // Protected: the SA of the first template
    std::optional<AcquireEvent> acquire;  // Held for want of an SA: the ACQUIRE sent, if any
  };
  // An outbound packet (selector: host prefixes, proto, ports) meets the SPD:
  // the matching Out policy with the lowest priority value, then the most
  // specific selector, then the oldest decides (a simplification of XFRM's
  // ordering). No policy, or an allow policy without templates: Clear. A
  // block policy: Held. Otherwise each template needs a valid SA (same reqid,
  // proto, mode, addresses - the template's in tunnel mode, the packet's in
  // transport mode -, mark, if_id, and a selector that matches the packet);
  // among several the non-dying then the newest one wins (xfrm_state_find).
  // All found: Protected, the packet is counted (kBytesPerPacket) on each.
  // A required template without SA: Held, and an ACQUIRE is published
  // (kGroupAcquire) unless one is pending for that template and those
  // addresses: XFRM keeps an ACQ state (larval, spi 0, visible in dumps)
  // until an SA matching it is added, flush_sas, or kAcquireExpireSeconds.
  Route send(const Selector& packet);

 private:
  struct Subscriber;
  // An SA table entry with what the kernel keeps beside the SA.
  struct Entry {
    SaParams sa;
    uint64_t added_at = 0;  // set_time clock
    uint64_t order = 0;     // add order: the newest wins in send()
    bool used = false;      // counted traffic once (use_time is valid)
    bool dying = false;     // soft EXPIRE announced
    bool acquire = false;   // an ACQUIRE's state (XFRM_STATE_ACQ from xfrm_state_find)
    uint32_t seq = 0;       // that ACQUIRE's seq
  };
  Result<void> check_injected_failure(const std::string& what);
  void publish(uint32_t group, const Event& event);
  std::vector<Entry>::iterator find_sa(const SaId& id);
  Entry make_entry(const SaParams& sa);
  Result<uint32_t> pick_spi(const SpiRequest& req);
  Entry* acquire_by_seq(uint32_t seq, const IpAddress& dst);
  void end_acquires_for(const SaParams& sa);
  bool limit_reached(const Entry& e, bool hard) const;
  const Entry* best_sa(const Template& t, const IpAddress& src, const IpAddress& dst,
                       const PolicyParams& p, const Selector& packet) const;
  bool acquire_pending(const Template& t, const IpAddress& src, const IpAddress& dst,
                       const PolicyParams& p) const;
  AcquireEvent start_acquire(const Template& t, const IpAddress& src, const IpAddress& dst,
                             const PolicyParams& p, const Selector& packet);
  const PolicyParams* out_policy(const Selector& packet) const;

  std::vector<Entry> sas_;  // insertion order, like a dump
  std::vector<PolicyParams> policies_;
  uint32_t next_spi_ = 0xc0000000;
  uint32_t next_index_ = 8;
  std::string fail_needle_;
  int fail_code_ = 0;
  uint64_t now_ = 0;
  uint64_t next_order_ = 0;
  uint32_t next_acq_seq_ = 0;
  std::vector<Subscriber*> subscribers_;
  friend struct Subscriber;
};

}  // namespace ipsec::kernel
