// SPDX-License-Identifier: Apache-2.0
// Counted XFRM policies: installed by the first user, deleted with the last.
#include "ike/policy_refs.h"

#include "common/log.h"

namespace ipsec::ike {

Result<void> PolicyRefs::acquire(kernel::Kernel& k,
                                 const std::vector<kernel::PolicyParams>& policies) {
  std::lock_guard lock(mutex_);
  std::vector<kernel::Op> ops;
  std::vector<size_t> fresh;  // indexes into policies of those not in use yet
  for (size_t i = 0; i < policies.size(); ++i) {
    const std::string key = kernel::identity_key(policies[i].id());
    bool seen_here = false;  // the same policy twice in one call: one kernel op
    for (size_t j : fresh) seen_here = seen_here || kernel::identity_key(policies[j].id()) == key;
    auto it = users_.find(key);
    if ((it == users_.end() || it->second == 0) && !seen_here) {
      fresh.push_back(i);
      ops.push_back(kernel::UpdatePolicy{policies[i]});
    }
  }
  auto results = k.apply_batch(ops);
  std::string error;
  for (const auto& r : results)
    if (!r && error.empty()) error = r.error().message;
  if (!error.empty()) {
    for (size_t n = 0; n < results.size(); ++n)
      if (results[n]) (void)k.delete_policy(policies[fresh[n]].id());
    return fail(error);
  }
  for (const auto& p : policies) ++users_[kernel::identity_key(p.id())];
  return ok();
}

size_t PolicyRefs::release(kernel::Kernel& k, const std::vector<kernel::PolicyParams>& policies) {
  std::lock_guard lock(mutex_);
  std::vector<kernel::Op> ops;
  for (const auto& p : policies) {
    auto it = users_.find(kernel::identity_key(p.id()));
    if (it == users_.end()) continue;
    if (--it->second == 0) {
      users_.erase(it);
      ops.push_back(kernel::DeletePolicy{p.id()});
    }
  }
  size_t errors = 0;
  for (const auto& r : k.apply_batch(ops))
    if (!r) {
      ++errors;
      log::warn("removing policy: " + r.error().message);
    }
  return errors;
}

size_t PolicyRefs::users(const kernel::PolicyId& id) const {
  std::lock_guard lock(mutex_);
  auto it = users_.find(kernel::identity_key(id));
  return it == users_.end() ? 0 : it->second;
}

}  // namespace ipsec::ike
