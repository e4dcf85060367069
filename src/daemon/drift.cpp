// SPDX-License-Identifier: Apache-2.0
// Drift repair (RFC 4301 §4.4: the SPD and SAD are ours to keep): the kernel's SAs and
// policies are compared with what ipsecd installed soon after the kernel announces a
// deletion, a flush or a policy change, and every reconcile_interval. A policy of ours that
// is gone or changed is put back (PolicyRefs), a CHILD SA whose ESP SAs are gone is rekeyed
// (the engines), a foreign policy overlapping ours is reported and left alone. Every repair
// is a warning, a monitor event ("repair") and a status counter.
#include <algorithm>
#include <unordered_set>

#include "common/log.h"
#include "daemon/daemon.h"

namespace ipsec::daemon {
namespace {

// Events come in bursts (a flush of many SAs, a rekey's deletions): one reconcile for them.
constexpr ike::Millis kSettle{100};
// At most one reconcile this often, whatever the events.
constexpr ike::Millis kMinGap{1000};

// Whether an SA or policy event may mean that something of ours changed behind our back.
bool worth_a_look(const kernel::Event& e) {
  if (const auto* s = std::get_if<kernel::SaChangeEvent>(&e))
    return s->kind == kernel::ChangeKind::Delete || s->kind == kernel::ChangeKind::Flush;
  return std::holds_alternative<kernel::PolicyChangeEvent>(e);
}

}  // namespace

void Daemon::on_kernel_change(const kernel::Event& e) {
  if (!worth_a_look(e)) return;
  const ike::Millis soon = std::max(clock_.now() + kSettle, last_reconcile_ + kMinGap);
  if (reconcile_at_ == ike::Millis{0} || soon < reconcile_at_) reconcile_at_ = soon;
}

int Daemon::reconcile_timeout() {
  const ike::Millis now = clock_.now();
  if (options_.reconcile_interval.count() > 0 && last_reconcile_ == ike::Millis{0})
    last_reconcile_ = now;  // the first periodic one an interval after the start
  ike::Millis due{0};
  if (options_.reconcile_interval.count() > 0) due = last_reconcile_ + options_.reconcile_interval;
  if (reconcile_at_ != ike::Millis{0} && (due == ike::Millis{0} || reconcile_at_ < due))
    due = reconcile_at_;
  if (due == ike::Millis{0}) return -1;
  return static_cast<int>(std::max<int64_t>((due - now).count(), 0));
}

void Daemon::reconcile() {
  const ike::Millis taken_at = clock_.now();
  last_reconcile_ = taken_at;
  reconcile_at_ = ike::Millis{0};
  ike::PolicyRefs::Drift d = policies_->reconcile(*events_kernel_);
  policies_reinstalled_ += d.reinstalled;
  policies_restored_ += d.restored;
  foreign_policies_ += d.foreign;
  for (const std::string& line : d.lines) {
    log::warn("drift: " + line);
    ike::EngineEvent e;
    e.kind = ike::EventKind::Repair;
    e.detail = line;
    events_.push(e);
  }
  auto sas = events_kernel_->dump_sas();
  if (!sas) {
    log::warn("drift: cannot dump the kernel's SAs: " + sas.error().message);
    return;
  }
  std::unordered_set<std::string> held;
  held.reserve(sas->size());
  for (const kernel::SaParams& sa : *sas) held.insert(kernel::identity_key(sa.id()));
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    if (w->engine().reconcile(held, taken_at) != 0) w->wake();
  }
}

}  // namespace ipsec::daemon
