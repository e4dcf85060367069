// SPDX-License-Identifier: Apache-2.0
// Which XFRM policies are in use, counted, so that CHILD SAs sharing a policy (an old and
// a new one during a rekey, a reauthentication's new IKE SA, a trap and the CHILD SA it
// brought up) install it once and remove it with the last user. One PolicyRefs serves
// every engine that programs the same kernel (the daemon's workers share one).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kernel/kernel.h"

namespace ipsec::ike {

class PolicyRefs {
 public:
  // Adds (XFRM update: create or replace) every policy not in use yet and counts a user
  // of each. All or nothing: on a kernel error nothing is counted and the policies this
  // call added are removed again.
  Result<void> acquire(kernel::Kernel& k, const std::vector<kernel::PolicyParams>& policies);
  // Drops one user of each; a policy with no user left is deleted from the kernel.
  // Errors are logged and counted in the returned number.
  size_t release(kernel::Kernel& k, const std::vector<kernel::PolicyParams>& policies);
  // Users of a policy (0: not ours).
  size_t users(const kernel::PolicyId& id) const;

  // What reconcile found and did, each with a line for the log.
  struct Drift {
    size_t reinstalled = 0;  // ours, gone from the kernel: added again
    size_t restored = 0;     // ours, changed behind our back: put back as we installed it
    size_t foreign = 0;      // someone else's, overlapping one of ours: reported, left alone
    size_t failed = 0;       // a repair the kernel refused
    std::vector<std::string> lines;
  };
  // Dumps the kernel's policies (under the lock acquire and release take, so that none of
  // ours is half-way) and repairs ours. A foreign policy is reported once.
  Drift reconcile(kernel::Kernel& k);

  // Crash recovery: policies a previous ipsecd left in the kernel (our reqids). They stay
  // (protecting the traffic) and count as ours for reconcile; a user acquiring one takes it
  // over. drop_leftovers deletes those still unclaimed and returns how many.
  void add_leftovers(const std::vector<kernel::PolicyParams>& policies);
  size_t drop_leftovers(kernel::Kernel& k);
  size_t leftovers() const;

 private:
  struct Use {
    size_t users = 0;
    kernel::PolicyParams params;  // as the first user installed it
  };
  mutable std::mutex mutex_;
  std::map<std::string, Use> users_;  // by kernel::identity_key
  std::set<std::string> foreign_seen_;
  std::map<std::string, kernel::PolicyParams> leftovers_;  // by kernel::identity_key
};

}  // namespace ipsec::ike
