// SPDX-License-Identifier: Apache-2.0
// ipsecctl: validate, apply and show IPsec SAs and policies in the kernel.
#include <errno.h>

#include <cstdio>

#include "common/bytes.h"
#include "ctl/commands.h"
#include "ctl/control_commands.h"
#include "netlink/xfrm_kernel.h"

namespace {

using namespace ipsec::ctl;

constexpr Command kCommands[] = {
    {"validate", "Check policy files without touching the kernel", setup_validate},
    {"apply", "Install the SAs and policies of policy files, all or nothing", setup_apply},
    {"remove", "Remove the SAs and policies of policy files from the kernel", setup_remove},
    {"flush", "Remove every SA and policy from the kernel", setup_flush},
    {"show", "Show the kernel's SAs and policies", setup_show},
    {"status", "Show ipsecd's IKE and CHILD SAs and recent failures", setup_status},
    {"load", "Replace ipsecd's connections with those of policy files", setup_load},
    {"list-conns", "List the connections ipsecd has loaded", setup_list_conns},
    {"list-certs", "List the certificates, CAs and CRLs ipsecd's connections use",
     setup_list_certs},
    {"up", "Ask ipsecd to initiate a connection", setup_up},
    {"down", "Ask ipsecd to delete a connection's IKE SAs (or every one: --all)", setup_down},
    {"restart", "Ask ipsecd to delete a connection's IKE SAs and bring it up again", setup_restart},
    {"monitor", "Print ipsecd's SA events (up, rekey, down, DPD, ACQUIRE) as they happen",
     setup_monitor},
    {"shutdown", "Stop ipsecd: delete every IKE SA, or hand them to the next ipsecd (--keep)",
     setup_shutdown},
};

ipsec::Result<std::unique_ptr<ipsec::kernel::Kernel>> open_netlink() {
  auto k = ipsec::netlink::XfrmKernel::open();
  if (!k) return ipsec::fail(std::move(k.error()));
  return std::unique_ptr<ipsec::kernel::Kernel>(std::move(*k));
}

}  // namespace

namespace ipsec::ctl {

void report_kernel_error(Context& ctx, const Error& e, Exit code) {
  bool denied = e.code == EPERM || e.code == EACCES;
  std::fprintf(stderr, "error: %s%s\n", printable_line(e.message).c_str(),
               denied ? " (changing or reading IPsec state needs CAP_NET_ADMIN: run as root)" : "");
  ctx.exit_code = denied ? kExitNoKernel : code;
}

}  // namespace ipsec::ctl

int main(int argc, char** argv) {
  CLI::App app{"ipsecctl: control Linux IPsec SAs and policies"};
  app.set_version_flag("--version", std::string("ipsecctl ") + IPSECCTL_VERSION);
  app.require_subcommand(1);
  Context ctx{open_netlink};
  for (const Command& c : kCommands) c.setup(*app.add_subcommand(c.name, c.description), ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return ctx.exit_code;
}
