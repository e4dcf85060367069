// SPDX-License-Identifier: Apache-2.0
// The --json documents of ipsecctl's kernel commands (validate, apply, remove).
#include "ctl/json_out.h"

#include <variant>

#include "kernel/kernel.h"

namespace ipsec::ctl {

namespace k = ipsec::kernel;
using Json = nlohmann::json;

namespace {

Json counts(size_t sas, size_t policies) { return {{"sas", sas}, {"policies", policies}}; }

// {"action", "kind", "object"} of one change; "object" as describe() names it.
Json change_json(const k::Op& op) {
  struct V {
    Json operator()(const k::AddSa& o) const { return entry("add", "sa", k::describe(o.sa)); }
    Json operator()(const k::UpdateSa& o) const { return entry("update", "sa", k::describe(o.sa)); }
    Json operator()(const k::DeleteSa& o) const { return entry("delete", "sa", k::describe(o.id)); }
    Json operator()(const k::AddPolicy& o) const {
      return entry("add", "policy", k::describe(o.policy));
    }
    Json operator()(const k::UpdatePolicy& o) const {
      return entry("update", "policy", k::describe(o.policy));
    }
    Json operator()(const k::DeletePolicy& o) const {
      return entry("delete", "policy", k::describe(o.id));
    }
    static Json entry(const char* action, const char* kind, std::string object) {
      return {{"action", action}, {"kind", kind}, {"object", std::move(object)}};
    }
  };
  return std::visit(V{}, op);
}

Json messages_json(const std::vector<Error>& errors) {
  Json out = Json::array();
  for (const auto& e : errors) out.push_back(e.message);
  return out;
}

}  // namespace

std::string json_text(const Json& doc) {
  return doc.dump(2, ' ', false, Json::error_handler_t::replace);
}

Json diagnostics_json(const std::vector<policy::Diagnostic>& ds) {
  Json out = Json::array();
  for (const auto& d : ds)
    out.push_back({{"file", d.file}, {"path", d.path}, {"message", d.message}});
  return out;
}

Json validate_json(const std::vector<std::string>& files, const policy::LoadResult& r) {
  Json doc = {{"ok", r.ok()},
              {"files", files},
              {"errors", diagnostics_json(r.errors)},
              {"warnings", diagnostics_json(r.warnings)}};
  if (r.ok()) {
    doc["sas"] = r.config.sas.size();
    doc["policies"] = r.config.policies.size();
    doc["connections"] = r.config.connections.size();
  }
  return doc;
}

void put_plan(Json& doc, const policy::Plan& plan) {
  doc["added"] = counts(plan.sas_added, plan.policies_added);
  doc["replaced"] = counts(plan.sas_replaced, plan.policies_replaced);
  doc["removed"] = counts(plan.sas_removed, plan.policies_removed);
  doc["unchanged"] = counts(plan.sas_unchanged, plan.policies_unchanged);
  Json changes = Json::array();
  for (const auto& op : plan.ops) changes.push_back(change_json(op));
  doc["changes"] = std::move(changes);
}

std::string outcome_text(const policy::ApplyOutcome& r, const char* verb) {
  if (r.applied) return "";
  if (r.undo_errors.empty())
    return std::string("nothing ") + verb + ": rolled back " + std::to_string(r.rolled_back) +
           " change" + (r.rolled_back == 1 ? "" : "s") + ", the kernel is as before";
  return "the kernel was left partly changed; see 'ipsecctl show'";
}

void put_outcome(Json& doc, const policy::ApplyOutcome& r, const char* verb) {
  if (r.applied) return;
  doc["ok"] = false;
  doc["error"] = outcome_text(r, verb);
  doc["kernel_errors"] = messages_json(r.errors);
  doc["rolled_back"] = r.rolled_back;
  doc["rollback_errors"] = messages_json(r.undo_errors);
}

}  // namespace ipsec::ctl
