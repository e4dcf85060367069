// SPDX-License-Identifier: Apache-2.0
// validate, apply, remove, flush: policy files to the kernel, all or nothing.
#include <cstdio>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "ctl/commands.h"
#include "policy/plan.h"
#include "policy/static_config.h"

namespace ipsec::ctl {

namespace {

constexpr size_t kMaxErrorsShown = 20;

struct FileOptions {
  std::vector<std::string> files;
  bool dry_run = false;
  bool quiet = false;
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

std::unique_ptr<kernel::Kernel> open_kernel(Context& ctx) {
  auto k = ctx.open_kernel();
  if (!k) {
    report_kernel_error(ctx, k.error(), kExitNoKernel);
    return nullptr;
  }
  return std::move(*k);
}

// Reads the kernel's current SAs and policies.
bool read_kernel(Context& ctx, kernel::Kernel& k, std::vector<kernel::SaParams>& sas,
                 std::vector<kernel::PolicyParams>& policies) {
  auto s = k.dump_sas();
  auto p = k.dump_policies();
  if (!s || !p) {
    report_kernel_error(ctx, !s ? s.error() : p.error(), kExitNoKernel);
    return false;
  }
  sas = std::move(*s);
  policies = std::move(*p);
  return true;
}

void print_plan(const policy::Plan& plan) {
  for (const auto& op : plan.ops) std::printf("  %s\n", kernel::describe(op).c_str());
}

// Runs a plan and reports, setting the exit code.
void run_plan(Context& ctx, kernel::Kernel& k, const policy::Plan& plan, const FileOptions& o,
              const char* verb) {
  if (o.dry_run) {
    std::printf("plan: %s\n", plan.summary().c_str());
    print_plan(plan);
    return;
  }
  policy::ApplyOutcome r = policy::execute(k, plan);
  if (r.applied) {
    if (!o.quiet) std::printf("%s: %s\n", verb, plan.summary().c_str());
    return;
  }
  print_errors("error", r.errors);
  if (r.undo_errors.empty()) {
    std::fprintf(stderr, "error: nothing %s: rolled back %zu change%s, the kernel is as before\n",
                 verb, r.rolled_back, r.rolled_back == 1 ? "" : "s");
    ctx.exit_code = kExitRefused;
    return;
  }
  print_errors("error: rollback", r.undo_errors);
  std::fprintf(stderr, "error: the kernel was left partly changed; see 'ipsecctl show'\n");
  ctx.exit_code = kExitPartial;
}

void add_file_options(CLI::App& sub, FileOptions& o, bool kernel_changes) {
  sub.add_option("files", o.files, "Policy files (JSON); - reads standard input")->required();
  if (kernel_changes) {
    sub.add_flag("-n,--dry-run", o.dry_run, "Print the plan without changing the kernel");
    sub.add_flag("-q,--quiet", o.quiet, "Print nothing on success");
  }
}

// What apply and remove start from: the files, the kernel and what it holds.
struct Session {
  policy::LoadResult files;
  std::unique_ptr<kernel::Kernel> kernel;
  std::vector<kernel::SaParams> sas;
  std::vector<kernel::PolicyParams> policies;
};

bool start(Context& ctx, const FileOptions& o, Session& s) {
  if (!load(o.files, s.files)) {
    ctx.exit_code = kExitInvalid;
    return false;
  }
  s.kernel = open_kernel(ctx);
  return s.kernel && read_kernel(ctx, *s.kernel, s.sas, s.policies);
}

}  // namespace

void setup_validate(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<FileOptions>();
  add_file_options(sub, *o, false);
  sub.callback([&ctx, o] {
    policy::LoadResult r;
    if (!load(o->files, r)) {
      ctx.exit_code = kExitInvalid;
      return;
    }
    const auto& c = r.config;
    std::printf("ok: %zu SA%s, %zu polic%s, %zu connection%s\n", c.sas.size(),
                c.sas.size() == 1 ? "" : "s", c.policies.size(),
                c.policies.size() == 1 ? "y" : "ies", c.connections.size(),
                c.connections.size() == 1 ? "" : "s");
  });
}

void setup_apply(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<FileOptions>();
  add_file_options(sub, *o, true);
  sub.footer(
      "Objects already in the kernel with the same configuration are left as they are;\n"
      "an SA whose configuration differs is replaced. If the kernel refuses any change,\n"
      "every change made is undone and the exit code is 3.");
  sub.callback([&ctx, o] {
    Session s;
    if (!start(ctx, *o, s)) return;
    if (size_t n = s.files.config.connections.size(); n != 0)
      std::fprintf(stderr,
                   "note: %zu connection%s not applied: connections are negotiated by ipsecd, "
                   "apply installs only the static SAs and policies\n",
                   n, n == 1 ? "" : "s");
    run_plan(ctx, *s.kernel, policy::make_plan(s.files.config, s.sas, s.policies), *o, "applied");
  });
}

void setup_remove(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<FileOptions>();
  add_file_options(sub, *o, true);
  sub.callback([&ctx, o] {
    Session s;
    if (!start(ctx, *o, s)) return;
    policy::Plan plan = policy::make_removal_plan(s.files.config, s.sas, s.policies);
    if (plan.empty()) {
      if (!o->quiet) std::printf("removed: nothing to do\n");
      return;
    }
    run_plan(ctx, *s.kernel, plan, *o, "removed");
  });
}

void setup_flush(CLI::App& sub, Context& ctx) {
  auto what = std::make_shared<std::string>("all");
  sub.add_option("what", *what, "sa, policy or all")
      ->check(CLI::IsMember({"sa", "policy", "all"}))
      ->capture_default_str();
  sub.callback([&ctx, what] {
    auto k = open_kernel(ctx);
    if (!k) return;
    // Policies first: an SA is never removed while a policy still points at it.
    if (*what != "sa") {
      if (auto r = k->flush_policies(); !r) {
        report_kernel_error(ctx, r.error(), kExitRefused);
        return;
      }
    }
    if (*what != "policy") {
      if (auto r = k->flush_sas(); !r) report_kernel_error(ctx, r.error(), kExitRefused);
    }
  });
}

}  // namespace ipsec::ctl
