// SPDX-License-Identifier: Apache-2.0
// A kernel::Kernel decorator that serializes every call on a shared kernel.
#include "daemon/locked_kernel.h"

namespace ipsec::daemon {

namespace {

// Reads of a subscription under the same mutex as the kernel that feeds it.
class LockedEventSource final : public kernel::EventSource {
 public:
  LockedEventSource(std::shared_ptr<SharedKernel> shared, std::unique_ptr<kernel::EventSource> s)
      : shared_(std::move(shared)), source_(std::move(s)) {}
  int fd() const override { return source_->fd(); }
  Result<std::vector<kernel::Event>> read() override {
    std::lock_guard lock(shared_->mutex);
    return source_->read();
  }

 private:
  std::shared_ptr<SharedKernel> shared_;
  std::unique_ptr<kernel::EventSource> source_;
};

// Calls f on the shared kernel with its mutex held.
template <typename F>
auto locked(SharedKernel& shared, F&& f) {
  std::lock_guard lock(shared.mutex);
  return f(*shared.kernel);
}

}  // namespace

Result<uint32_t> LockedKernel::alloc_spi(const kernel::SpiRequest& req) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.alloc_spi(req); });
}
Result<void> LockedKernel::add_sa(const kernel::SaParams& sa) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.add_sa(sa); });
}
Result<void> LockedKernel::update_sa(const kernel::SaParams& sa) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.update_sa(sa); });
}
Result<void> LockedKernel::delete_sa(const kernel::SaId& id) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.delete_sa(id); });
}
Result<kernel::SaParams> LockedKernel::get_sa(const kernel::SaId& id) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.get_sa(id); });
}
Result<std::vector<kernel::SaParams>> LockedKernel::dump_sas() {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.dump_sas(); });
}
Result<void> LockedKernel::flush_sas() {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.flush_sas(); });
}
Result<void> LockedKernel::add_policy(const kernel::PolicyParams& p) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.add_policy(p); });
}
Result<void> LockedKernel::update_policy(const kernel::PolicyParams& p) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.update_policy(p); });
}
Result<void> LockedKernel::delete_policy(const kernel::PolicyId& id) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.delete_policy(id); });
}
Result<kernel::PolicyParams> LockedKernel::get_policy(const kernel::PolicyId& id) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.get_policy(id); });
}
Result<std::vector<kernel::PolicyParams>> LockedKernel::dump_policies() {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.dump_policies(); });
}
Result<void> LockedKernel::flush_policies() {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.flush_policies(); });
}
Result<kernel::SadInfo> LockedKernel::sad_info() {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.sad_info(); });
}
Result<kernel::SpdInfo> LockedKernel::spd_info() {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.spd_info(); });
}
std::vector<Result<void>> LockedKernel::apply_batch(std::span<const kernel::Op> ops) {
  return locked(*shared_, [&](kernel::Kernel& k) { return k.apply_batch(ops); });
}

Result<std::unique_ptr<kernel::EventSource>> LockedKernel::subscribe(uint32_t groups) {
  std::lock_guard lock(shared_->mutex);
  auto s = shared_->kernel->subscribe(groups);
  if (!s) return fail(s.error());
  return std::unique_ptr<kernel::EventSource>(
      std::make_unique<LockedEventSource>(shared_, std::move(*s)));
}

}  // namespace ipsec::daemon
