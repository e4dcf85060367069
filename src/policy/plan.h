// SPDX-License-Identifier: Apache-2.0
// Plans: what must change in the kernel to reach a desired static
// configuration, and carrying one out all or nothing.
#pragma once

#include <string>
#include <vector>

#include "kernel/kernel.h"
#include "policy/static_config.h"

namespace ipsec::policy {

// ops[i] is a change; undo[i] is the change that undoes it. Kept apart so that
// the ops go to the kernel as they are, in one batch, without a copy.
struct Plan {
  std::vector<kernel::Op> ops;
  std::vector<kernel::Op> undo;
  size_t sas_added = 0, sas_replaced = 0, sas_unchanged = 0;
  size_t policies_added = 0, policies_replaced = 0, policies_unchanged = 0;
  size_t sas_removed = 0, policies_removed = 0;

  bool empty() const { return ops.empty(); }
  void add(kernel::Op op, kernel::Op undo_op) {
    ops.push_back(std::move(op));
    undo.push_back(std::move(undo_op));
  }
  std::string summary() const;  // "2 SAs added, 1 policy replaced, 3 unchanged"
};

// Compares the desired objects with what the kernel holds. Objects the
// kernel holds that are not desired are left alone (apply merges).
// SAs come first so that no policy ever points at a missing SA longer than
// needed; an SA whose configuration differs is deleted and added again
// (XFRM_MSG_UPDSA cannot change algorithms or keys).
Plan make_plan(const StaticConfig& desired, const std::vector<kernel::SaParams>& current_sas,
               const std::vector<kernel::PolicyParams>& current_policies);

// The plan that removes every object of `config` the kernel holds.
Plan make_removal_plan(const StaticConfig& config, const std::vector<kernel::SaParams>& current_sas,
                       const std::vector<kernel::PolicyParams>& current_policies);

struct ApplyOutcome {
  bool applied = false;            // every step succeeded
  std::vector<Error> errors;       // the kernel's refusals, one per failed step
  size_t rolled_back = 0;          // steps undone after a failure
  std::vector<Error> undo_errors;  // undo steps that failed: the kernel was left changed
};

// Carries out the plan in one batch. If any step fails, the steps that
// succeeded are undone in reverse order, so the kernel is as before.
ApplyOutcome execute(kernel::Kernel& kernel, const Plan& plan);

}  // namespace ipsec::policy
