// ipsecd: the IKE daemon. Loads policy files, negotiates their connections over UDP
// and installs the SAs in the kernel; ipsecctl drives it over the control socket.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <set>

#include "common/log.h"
#include "daemon/daemon.h"
#include "ike/v2/from_policy.h"
#include "kernel/memory_kernel.h"
#include "netlink/xfrm_kernel.h"
#include "policy/static_config.h"

namespace {

using namespace ipsec;

struct Options {
  std::vector<std::string> config_files;
  bool memory_kernel = false;
  std::string control_path = control::kDefaultSocket;
  uint16_t port = 500;
  std::string log_level = "info";
  std::string pid_file;
};

// Loads the policy files, all or nothing; prints problems like `ipsecctl validate`.
bool load(const Options& o, std::vector<daemon::DaemonConnection>& out) {
  if (o.config_files.empty()) return true;
  policy::LoadResult r = policy::load_files(o.config_files);
  for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.str().c_str());
  for (const auto& e : r.errors) std::fprintf(stderr, "error: %s\n", e.str().c_str());
  if (!r.ok()) return false;
  bool good = true;
  for (const policy::Connection& c : r.config.connections) {
    auto cfg = ike::v2::to_engine_config(c);
    if (!cfg) {
      std::fprintf(stderr, "error: %s\n", cfg.error().message.c_str());
      good = false;
      continue;
    }
    cfg->local.port = o.port;
    cfg->remote.port = o.port;
    out.push_back({std::move(*cfg), c.children.empty() ? policy::StartAction::None
                                                       : c.children.front().start_action});
  }
  return good;
}

// A reqid of 0 in the files means "allocate": the lowest ones no connection names.
void assign_reqids(std::vector<daemon::DaemonConnection>& conns) {
  std::set<uint32_t> used;
  for (const auto& c : conns)
    if (c.config.child.reqid != 0) used.insert(c.config.child.reqid);
  uint32_t next = 1;
  for (auto& c : conns) {
    if (c.config.child.reqid != 0) continue;
    while (used.count(next)) ++next;
    c.config.child.reqid = next;
    used.insert(next);
  }
}

Result<std::unique_ptr<kernel::Kernel>> open_kernel(bool memory) {
  if (memory) return std::unique_ptr<kernel::Kernel>(std::make_unique<kernel::MemoryKernel>());
  auto k = netlink::XfrmKernel::open();
  if (!k) return fail(std::move(k.error()));
  return std::unique_ptr<kernel::Kernel>(std::move(*k));
}

bool write_pid_file(const std::string& path) {
  std::ofstream f(path, std::ios::trunc);
  f << ::getpid() << "\n";
  return static_cast<bool>(f.flush());
}

int serve(const Options& o, std::vector<daemon::DaemonConnection> conns) {
  auto k = open_kernel(o.memory_kernel);
  if (!k) {
    std::fprintf(stderr, "error: kernel: %s (try --memory-kernel)\n", k.error().message.c_str());
    return 1;
  }
  daemon::DaemonOptions dopts;
  dopts.control_path = o.control_path;
  auto d = daemon::Daemon::create(dopts, std::move(*k), std::move(conns));
  if (!d) {
    std::fprintf(stderr, "error: %s\n", d.error().message.c_str());
    return 1;
  }
  if (!o.pid_file.empty() && !write_pid_file(o.pid_file)) {
    std::fprintf(stderr, "error: cannot write %s\n", o.pid_file.c_str());
    return 1;
  }
  int rc = (*d)->run();
  if (!o.pid_file.empty()) ::unlink(o.pid_file.c_str());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ipsecd: the IKE daemon of ipsecctl"};
  Options o;
  app.add_option("--config", o.config_files, "Policy files with connections")->expected(1, -1);
  app.add_flag("--memory-kernel", o.memory_kernel,
               "Keep SAs in memory instead of the kernel (for kernels without ESP)");
  app.add_option("--control", o.control_path, "Control socket path")->capture_default_str();
  app.add_option("--port", o.port, "IKE UDP port, local and remote")->capture_default_str();
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--pid-file", o.pid_file, "Write the process id to this file");
  CLI11_PARSE(app, argc, argv);

  const std::map<std::string, log::Level> levels{{"debug", log::Level::Debug},
                                                 {"info", log::Level::Info},
                                                 {"warn", log::Level::Warn},
                                                 {"error", log::Level::Error}};
  log::set_level(levels.at(o.log_level));
  std::vector<daemon::DaemonConnection> conns;
  if (!load(o, conns)) return 1;
  assign_reqids(conns);
  return serve(o, std::move(conns));
}
