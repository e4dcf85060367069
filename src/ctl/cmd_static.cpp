// SPDX-License-Identifier: Apache-2.0
// validate, apply, remove, flush: policy files to the kernel, all or nothing.
// With --json each prints one document on stdout at the end, failures included (json_out.h);
// stderr keeps its error:, warning: and note: lines either way.
#include <cstdio>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "ctl/commands.h"
#include "ctl/json_out.h"
#include "policy/plan.h"
#include "policy/static_config.h"

namespace ipsec::ctl {

namespace {

constexpr size_t kMaxErrorsShown = 20;

struct FileOptions {
  std::vector<std::string> files;
  bool dry_run = false;
  bool quiet = false;
  bool json = false;
};

void print_errors(const char* prefix, const std::vector<Error>& errors) {
  for (size_t i = 0; i < errors.size() && i < kMaxErrorsShown; ++i)
    std::fprintf(stderr, "%s: %s\n", prefix, printable_line(errors[i].message).c_str());
  if (errors.size() > kMaxErrorsShown)
    std::fprintf(stderr, "%s: ... and %zu more\n", prefix, errors.size() - kMaxErrorsShown);
}

// Loads and validates; prints every problem. Returns false when any error.
bool load(const std::vector<std::string>& files, policy::LoadResult& out) {
  out = policy::load_files(files);
  for (const auto& w : out.warnings) std::fprintf(stderr, "warning: %s\n", w.str().c_str());
  for (const auto& e : out.errors) std::fprintf(stderr, "error: %s\n", e.str().c_str());
  return out.ok();
}

// A kernel error: on stderr with its exit code (report_kernel_error), and in the document.
void kernel_failed(Context& ctx, const Error& e, Exit code, nlohmann::json& doc) {
  report_kernel_error(ctx, e, code);
  doc["ok"] = false;
  doc["error"] = e.message;
}

void print_plan(const policy::Plan& plan) {
  for (const auto& op : plan.ops) std::printf("  %s\n", kernel::describe(op).c_str());
}

void add_file_options(CLI::App& sub, FileOptions& o, bool kernel_changes) {
  sub.add_option("files", o.files, "Policy files (JSON); - reads standard input")->required();
  if (kernel_changes) {
    sub.add_flag("-n,--dry-run", o.dry_run, "Print the plan without changing the kernel");
    sub.add_flag("-q,--quiet", o.quiet, "Print nothing on success");
  }
  sub.add_flag("--json", o.json, "Print the outcome as one JSON document (see ipsecctl(8))");
}

// What apply and remove start from: the files, the kernel and what it holds; and, for
// --json, the document they fill as they go.
struct Session {
  policy::LoadResult files;
  std::unique_ptr<kernel::Kernel> kernel;
  std::vector<kernel::SaParams> sas;
  std::vector<kernel::PolicyParams> policies;
  nlohmann::json doc;
};

bool start(Context& ctx, const FileOptions& o, Session& s) {
  s.doc = {{"ok", true}, {"dry_run", o.dry_run}};
  bool good = load(o.files, s.files);
  s.doc["errors"] = diagnostics_json(s.files.errors);
  s.doc["warnings"] = diagnostics_json(s.files.warnings);
  if (!good) {
    ctx.exit_code = kExitInvalid;
    s.doc["ok"] = false;
    s.doc["error"] = std::to_string(s.files.errors.size()) +
                     " error(s) in the policy files; the kernel was not changed";
    return false;
  }
  auto k = ctx.open_kernel();
  if (!k) {
    kernel_failed(ctx, k.error(), kExitNoKernel, s.doc);
    return false;
  }
  s.kernel = std::move(*k);
  auto sas = s.kernel->dump_sas();
  auto policies = s.kernel->dump_policies();
  if (!sas || !policies) {
    kernel_failed(ctx, !sas ? sas.error() : policies.error(), kExitNoKernel, s.doc);
    return false;
  }
  s.sas = std::move(*sas);
  s.policies = std::move(*policies);
  return true;
}

// Prints the document of a --json apply or remove; -q silences a success, as in text.
void finish(const FileOptions& o, const Session& s) {
  if (o.json && !(o.quiet && !o.dry_run && s.doc["ok"] == true))
    std::printf("%s\n", json_text(s.doc).c_str());
}

// Runs a plan and reports, setting the exit code.
void run_plan(Context& ctx, Session& s, const policy::Plan& plan, const FileOptions& o,
              const char* verb) {
  put_plan(s.doc, plan);
  if (o.dry_run) {
    if (!o.json) {
      std::printf("plan: %s\n", plan.summary().c_str());
      print_plan(plan);
    }
    return;
  }
  policy::ApplyOutcome r = policy::execute(*s.kernel, plan);
  if (r.applied) {
    if (!o.quiet && !o.json) std::printf("%s: %s\n", verb, plan.summary().c_str());
    return;
  }
  put_outcome(s.doc, r, verb);
  print_errors("error", r.errors);
  if (!r.undo_errors.empty()) print_errors("error: rollback", r.undo_errors);
  std::fprintf(stderr, "error: %s\n", outcome_text(r, verb).c_str());
  ctx.exit_code = r.undo_errors.empty() ? kExitRefused : kExitPartial;
}

void do_validate(Context& ctx, const FileOptions& o) {
  policy::LoadResult r;
  bool good = load(o.files, r);
  if (!good) ctx.exit_code = kExitInvalid;
  if (o.json) {
    std::printf("%s\n", json_text(validate_json(o.files, r)).c_str());
    return;
  }
  if (!good) return;
  const auto& c = r.config;
  std::printf("ok: %zu SA%s, %zu polic%s, %zu connection%s\n", c.sas.size(),
              c.sas.size() == 1 ? "" : "s", c.policies.size(), c.policies.size() == 1 ? "y" : "ies",
              c.connections.size(), c.connections.size() == 1 ? "" : "s");
}

void do_apply(Context& ctx, const FileOptions& o) {
  Session s;
  if (start(ctx, o, s)) {
    if (size_t n = s.files.config.connections.size(); n != 0)
      std::fprintf(stderr,
                   "note: %zu connection%s not applied: connections are negotiated by ipsecd, "
                   "apply installs only the static SAs and policies\n",
                   n, n == 1 ? "" : "s");
    run_plan(ctx, s, policy::make_plan(s.files.config, s.sas, s.policies), o, "applied");
  }
  finish(o, s);
}

void do_remove(Context& ctx, const FileOptions& o) {
  Session s;
  if (start(ctx, o, s)) {
    policy::Plan plan = policy::make_removal_plan(s.files.config, s.sas, s.policies);
    if (!plan.empty())
      run_plan(ctx, s, plan, o, "removed");
    else if (o.json)
      put_plan(s.doc, plan);
    else if (!o.quiet)
      std::printf("removed: nothing to do\n");
  }
  finish(o, s);
}

// Policies first: an SA is never removed while a policy still points at it.
void do_flush(Context& ctx, const std::string& what, bool json) {
  nlohmann::json doc = {{"ok", true}, {"flushed", {{"policies", false}, {"sas", false}}}};
  auto k = ctx.open_kernel();
  if (!k) kernel_failed(ctx, k.error(), kExitNoKernel, doc);
  if (k && what != "sa") {
    if (auto r = (*k)->flush_policies(); r)
      doc["flushed"]["policies"] = true;
    else
      kernel_failed(ctx, r.error(), kExitRefused, doc);
  }
  if (k && what != "policy" && doc["ok"] == true) {
    if (auto r = (*k)->flush_sas(); r)
      doc["flushed"]["sas"] = true;
    else
      kernel_failed(ctx, r.error(), kExitRefused, doc);
  }
  if (json) std::printf("%s\n", json_text(doc).c_str());
}

}  // namespace

void setup_validate(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<FileOptions>();
  add_file_options(sub, *o, false);
  sub.callback([&ctx, o] { do_validate(ctx, *o); });
}

void setup_apply(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<FileOptions>();
  add_file_options(sub, *o, true);
  sub.footer(
      "Objects already in the kernel with the same configuration are left as they are;\n"
      "an SA whose configuration differs is replaced. If the kernel refuses any change,\n"
      "every change made is undone and the exit code is 3.");
  sub.callback([&ctx, o] { do_apply(ctx, *o); });
}

void setup_remove(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<FileOptions>();
  add_file_options(sub, *o, true);
  sub.callback([&ctx, o] { do_remove(ctx, *o); });
}

void setup_flush(CLI::App& sub, Context& ctx) {
  auto what = std::make_shared<std::string>("all");
  auto json = std::make_shared<bool>(false);
  sub.add_option("what", *what, "sa, policy or all")
      ->check(CLI::IsMember({"sa", "policy", "all"}))
      ->capture_default_str();
  sub.add_flag("--json", *json, "Print the outcome as one JSON document (see ipsecctl(8))");
  sub.callback([&ctx, what, json] { do_flush(ctx, *what, *json); });
}

}  // namespace ipsec::ctl
