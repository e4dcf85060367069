// SPDX-License-Identifier: Apache-2.0
// Counted XFRM policies: installed by the first user, deleted with the last.
#include "ike/policy_refs.h"

#include <algorithm>
#include <cerrno>

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
    if ((it == users_.end() || it->second.users == 0) && !seen_here) {
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
  for (const auto& p : policies) {
    const std::string key = kernel::identity_key(p.id());
    Use& u = users_[key];
    if (u.users++ == 0) u.params = p;
    leftovers_.erase(key);  // taken over (the update above made it ours)
  }
  return ok();
}

size_t PolicyRefs::release(kernel::Kernel& k, const std::vector<kernel::PolicyParams>& policies) {
  std::lock_guard lock(mutex_);
  std::vector<kernel::Op> ops;
  for (const auto& p : policies) {
    auto it = users_.find(kernel::identity_key(p.id()));
    if (it == users_.end()) continue;
    if (--it->second.users == 0) {
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
  return it == users_.end() ? 0 : it->second.users;
}

namespace {

bool overlaps(const Prefix& a, const Prefix& b) {
  if (a.family() != b.family()) return false;
  const uint8_t len = std::min(a.len, b.len);
  return Prefix{a.addr, len}.contains(b.addr);
}

// The same traffic, at least in part, in the same direction.
bool overlaps(const kernel::PolicyParams& a, const kernel::PolicyParams& b) {
  return a.dir == b.dir && overlaps(a.sel.src, b.sel.src) && overlaps(a.sel.dst, b.sel.dst) &&
         (a.sel.proto == 0 || b.sel.proto == 0 || a.sel.proto == b.sel.proto);
}

}  // namespace

PolicyRefs::Drift PolicyRefs::reconcile(kernel::Kernel& k) {
  std::lock_guard lock(mutex_);
  Drift d;
  auto dump = k.dump_policies();
  if (!dump) {
    ++d.failed;
    d.lines.push_back("cannot dump the kernel's policies: " + dump.error().message);
    return d;
  }
  std::map<std::string, const kernel::PolicyParams*> held;
  for (const auto& p : *dump)
    if (!p.socket) held.emplace(kernel::identity_key(p.id()), &p);
  for (const auto& [key, use] : users_) {
    if (use.users == 0) continue;
    auto it = held.find(key);
    if (it != held.end() && it->second->same_config(use.params)) continue;
    const bool gone = it == held.end();
    auto r = k.update_policy(use.params);
    const std::string what = kernel::describe(use.params);
    if (!r) {
      ++d.failed;
      d.lines.push_back("cannot repair " + what + ": " + r.error().message);
      continue;
    }
    ++(gone ? d.reinstalled : d.restored);
    d.lines.push_back(what + (gone ? " was gone from the kernel: installed again"
                                   : " was changed in the kernel: restored"));
  }
  for (const auto& [key, p] : held) {
    if (users_.count(key) != 0 || foreign_seen_.count(key) != 0 || leftovers_.count(key) != 0)
      continue;
    for (const auto& [ours_key, use] : users_) {
      if (!overlaps(*p, use.params)) continue;
      foreign_seen_.insert(key);
      ++d.foreign;
      d.lines.push_back("a policy that is not ours, " + kernel::describe(*p) + ", overlaps " +
                        kernel::describe(use.params) + ": left alone");
      break;
    }
  }
  return d;
}

void PolicyRefs::add_leftovers(const std::vector<kernel::PolicyParams>& policies) {
  std::lock_guard lock(mutex_);
  for (const auto& p : policies) {
    const std::string key = kernel::identity_key(p.id());
    if (users_.count(key) == 0) leftovers_.emplace(key, p);
  }
}

size_t PolicyRefs::drop_leftovers(kernel::Kernel& k) {
  std::lock_guard lock(mutex_);
  size_t dropped = 0;
  for (const auto& [key, p] : leftovers_) {
    if (users_.count(key) != 0) continue;
    auto r = k.delete_policy(p.id());
    if (r || r.error().code == ENOENT) ++dropped;
    if (!r && r.error().code != ENOENT)
      log::warn("removing " + kernel::describe(p) + " left by a previous ipsecd: " +
                r.error().message);
  }
  leftovers_.clear();
  return dropped;
}

size_t PolicyRefs::leftovers() const {
  std::lock_guard lock(mutex_);
  return leftovers_.size();
}

}  // namespace ipsec::ike
