// SPDX-License-Identifier: Apache-2.0
// show: the kernel's SAs and policies, as text or as a policy file.
#include <cstdio>
#include <iostream>

#include "ctl/commands.h"
#include "ctl/format.h"
#include "policy/static_config.h"

namespace ipsec::ctl {

namespace {

struct ShowOptions {
  std::string what = "all";
  bool json = false;
  bool keys = false;
};

void print_text(const std::vector<kernel::SaParams>* sas,
                const std::vector<kernel::PolicyParams>* policies, bool keys) {
  if (sas) {
    std::printf("SAs: %zu\n", sas->size());
    for (const auto& sa : *sas) std::printf("%s\n", format_sa(sa, keys).c_str());
  }
  if (policies) {
    if (sas) std::printf("\n");
    std::printf("Policies: %zu\n", policies->size());
    for (const auto& p : *policies) std::printf("%s\n", format_policy(p).c_str());
  }
}

// The configuration part only, in the policy file format (keys inline with --keys, else
// "hidden", which apply refuses): larval SAs and per-socket policies are not configuration
// and are left out.
void print_json(const std::vector<kernel::SaParams>* sas,
                const std::vector<kernel::PolicyParams>* policies, bool keys) {
  policy::StaticConfig config;
  if (sas)
    for (const auto& sa : *sas)
      if (!sa.larval) config.sas.push_back(sa);
  if (policies)
    for (const auto& p : *policies)
      if (!p.socket) config.policies.push_back(p);
  std::cout << policy::to_json(config, keys ? policy::KeyOutput::Include : policy::KeyOutput::Hide)
                   .dump(2)
            << "\n";
}

}  // namespace

void setup_show(CLI::App& sub, Context& ctx) {
  auto o = std::make_shared<ShowOptions>();
  sub.add_option("what", o->what, "sa, policy or all")
      ->check(CLI::IsMember({"sa", "policy", "all"}))
      ->capture_default_str();
  sub.add_flag("--json", o->json,
               "Print as a policy file that 'ipsecctl apply' accepts (keys: with --keys only)");
  sub.add_flag("--keys", o->keys, "Show the keys (hidden by default), in text or --json");
  sub.callback([&ctx, o] {
    auto k = ctx.open_kernel();
    if (!k) {
      report_kernel_error(ctx, k.error(), kExitNoKernel);
      return;
    }
    Result<std::vector<kernel::SaParams>> sas = std::vector<kernel::SaParams>{};
    Result<std::vector<kernel::PolicyParams>> policies = std::vector<kernel::PolicyParams>{};
    if (o->what != "policy") sas = (*k)->dump_sas();
    if (o->what != "sa") policies = (*k)->dump_policies();
    if (!sas || !policies) {
      report_kernel_error(ctx, !sas ? sas.error() : policies.error(), kExitNoKernel);
      return;
    }
    sort_for_display(*sas);
    sort_for_display(*policies);
    const auto* s = o->what != "policy" ? &*sas : nullptr;
    const auto* p = o->what != "sa" ? &*policies : nullptr;
    if (o->json)
      print_json(s, p, o->keys);
    else
      print_text(s, p, o->keys);
  });
}

}  // namespace ipsec::ctl
