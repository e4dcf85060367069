// SPDX-License-Identifier: Apache-2.0
// Plans: desired static configuration vs the kernel's, applied all or nothing.
#include "policy/plan.h"

#include <algorithm>
#include <unordered_map>

namespace ipsec::policy {

namespace k = ipsec::kernel;

namespace {

// The kernel's objects by identity (hashed, so that plans over 100,000
// objects stay linear); larval SAs and socket policies are not configuration
// and are left out.
struct Current {
  std::unordered_map<std::string, const k::SaParams*> sas;
  std::unordered_map<std::string, const k::PolicyParams*> policies;

  Current(const std::vector<k::SaParams>& s, const std::vector<k::PolicyParams>& p) {
    sas.reserve(s.size());
    for (const auto& sa : s)
      if (!sa.larval) sas.emplace(k::identity_key(sa.id()), &sa);
    policies.reserve(p.size());
    for (const auto& pol : p)
      if (!pol.socket) policies.emplace(k::identity_key(pol.id()), &pol);
  }
  const k::SaParams* find(const k::SaId& id) const {
    auto it = sas.find(k::identity_key(id));
    return it == sas.end() ? nullptr : it->second;
  }
  const k::PolicyParams* find(const k::PolicyId& id) const {
    auto it = policies.find(k::identity_key(id));
    return it == policies.end() ? nullptr : it->second;
  }
};

std::string count(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void plan_sas(Plan& plan, const std::vector<k::SaParams>& desired, const Current& current) {
  for (const auto& sa : desired) {
    const k::SaParams* have = current.find(sa.id());
    if (have == nullptr) {
      plan.add(k::AddSa{sa}, k::DeleteSa{sa.id()});
      ++plan.sas_added;
    } else if (have->same_config(sa)) {
      ++plan.sas_unchanged;
    } else {
      plan.add(k::DeleteSa{have->id()}, k::AddSa{*have});
      plan.add(k::AddSa{sa}, k::DeleteSa{sa.id()});
      ++plan.sas_replaced;
    }
  }
}

void plan_policies(Plan& plan, const std::vector<k::PolicyParams>& desired,
                   const Current& current) {
  for (const auto& p : desired) {
    const k::PolicyParams* have = current.find(p.id());
    if (have == nullptr) {
      plan.add(k::AddPolicy{p}, k::DeletePolicy{p.id()});
      ++plan.policies_added;
    } else if (have->same_config(p)) {
      ++plan.policies_unchanged;
    } else {
      k::PolicyParams old = *have;
      old.index = 0;
      plan.add(k::UpdatePolicy{p}, k::UpdatePolicy{old});
      ++plan.policies_replaced;
    }
  }
}
}  // namespace

std::string Plan::summary() const {
  std::vector<std::string> parts;
  auto add = [&](size_t n, const char* one, const char* many, const char* verb) {
    if (n) parts.push_back(count(n, one, many) + " " + verb);
  };
  add(sas_added, "SA", "SAs", "added");
  add(sas_replaced, "SA", "SAs", "replaced");
  add(policies_added, "policy", "policies", "added");
  add(policies_replaced, "policy", "policies", "replaced");
  add(sas_removed, "SA", "SAs", "removed");
  add(policies_removed, "policy", "policies", "removed");
  size_t same = sas_unchanged + policies_unchanged;
  if (parts.empty())
    return same ? "nothing to do (" + std::to_string(same) + " unchanged)" : "nothing to do";
  if (same) parts.push_back(std::to_string(same) + " unchanged");
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) out += ", " + parts[i];
  return out;
}

Plan make_plan(const StaticConfig& desired, const std::vector<k::SaParams>& current_sas,
               const std::vector<k::PolicyParams>& current_policies) {
  Plan plan;
  Current current(current_sas, current_policies);
  size_t n = desired.sas.size() + desired.policies.size();
  plan.ops.reserve(n);
  plan.undo.reserve(n);
  plan_sas(plan, desired.sas, current);
  plan_policies(plan, desired.policies, current);
  return plan;
}

Plan make_removal_plan(const StaticConfig& config, const std::vector<k::SaParams>& current_sas,
                       const std::vector<k::PolicyParams>& current_policies) {
  Plan plan;
  Current current(current_sas, current_policies);
  // Policies first: an SA never disappears under a policy that still needs it.
  for (const auto& p : config.policies)
    if (const auto* have = current.find(p.id())) {
      k::PolicyParams old = *have;
      old.index = 0;
      plan.add(k::DeletePolicy{p.id()}, k::AddPolicy{old});
      ++plan.policies_removed;
    }
  for (const auto& sa : config.sas)
    if (const auto* have = current.find(sa.id())) {
      plan.add(k::DeleteSa{have->id()}, k::AddSa{*have});
      ++plan.sas_removed;
    }
  return plan;
}

ApplyOutcome execute(k::Kernel& kernel, const Plan& plan) {
  ApplyOutcome out;
  std::vector<Result<void>> results = kernel.apply_batch(plan.ops);

  std::vector<k::Op> undo;
  for (size_t i = results.size(); i-- > 0;) {
    if (results[i])
      undo.push_back(plan.undo[i]);
    else
      out.errors.push_back(results[i].error());
  }
  std::reverse(out.errors.begin(), out.errors.end());
  if (out.errors.empty()) {
    out.applied = true;
    return out;
  }
  std::vector<Result<void>> undone = kernel.apply_batch(undo);
  for (auto& r : undone) {
    if (r)
      ++out.rolled_back;
    else
      out.undo_errors.push_back(r.error());
  }
  return out;
}

}  // namespace ipsec::policy
