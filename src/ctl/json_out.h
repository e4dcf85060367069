// SPDX-License-Identifier: Apache-2.0
// The --json documents of ipsecctl's kernel commands (validate, apply, remove), built from
// what the loader, the plan and its execution yield; pure, so unit tests can check them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/plan.h"
#include "policy/static_config.h"

namespace ipsec::ctl {

// The text every --json document is printed as: 2-space indents like the daemon's answers;
// control characters escaped and invalid UTF-8 replaced, so no input breaks the document.
std::string json_text(const nlohmann::json& doc);

// [{"file": ..., "path": ..., "message": ...}, ...]; "path" is "" for the whole file.
nlohmann::json diagnostics_json(const std::vector<policy::Diagnostic>& ds);

// validate: {"ok", "files", "errors", "warnings"}, and with "ok": true the counts
// "sas", "policies" and "connections".
nlohmann::json validate_json(const std::vector<std::string>& files, const policy::LoadResult& r);

// Adds a plan to apply's or remove's document: "added", "replaced", "removed" and
// "unchanged", each {"sas": n, "policies": n}, and "changes", one entry per kernel change
// in the order they are made: {"action": "add|update|delete", "kind": "sa|policy",
// "object": "SA spi 0x1000 192.0.2.1->192.0.2.2 esp"}.
void put_plan(nlohmann::json& doc, const policy::Plan& plan);

// The line that says how a failed execution left the kernel: "nothing applied: rolled back
// 2 changes, the kernel is as before", or that it was left partly changed.
std::string outcome_text(const policy::ApplyOutcome& r, const char* verb);

// Adds a failed execution to the document: "ok": false, "error" (outcome_text),
// "kernel_errors" (the kernel's refusals), "rolled_back" and "rollback_errors".
void put_outcome(nlohmann::json& doc, const policy::ApplyOutcome& r, const char* verb);

}  // namespace ipsec::ctl
