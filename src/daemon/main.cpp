// SPDX-License-Identifier: Apache-2.0
// ipsecd: the IKE daemon. Loads policy files, negotiates their connections over UDP
// and installs the SAs in the kernel; ipsecctl drives it over the control socket.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <thread>

#include "common/bytes.h"
#include "common/log.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/locked_kernel.h"
#include "kernel/memory_kernel.h"
#include "netlink/xfrm_kernel.h"

namespace {

using namespace ipsec;

struct Options {
  std::vector<std::string> config_files;
  bool memory_kernel = false;
  std::string control_path = control::kDefaultSocket;
  uint16_t port = 500;
  int natt_port = -1;                  // -1: port + 4000 (4500 for 500); 0: no NAT traversal
  unsigned natt_keepalive = 20;        // seconds; 0: none
  unsigned half_open_timeout = 30;     // seconds
  unsigned reconcile_interval = 30;    // seconds; 0: on kernel events only
  unsigned leftover_grace = 60;        // seconds
  std::string reqids_file;
  std::string state_file;
  unsigned cookie_threshold = 128;     // half-open SAs; 0: always ask for a COOKIE
  unsigned half_open_per_source = 32;  // 0: no limit
  uint32_t workers = 0;                // 0: one per online CPU
  std::string log_level = "info";
  std::string pid_file;
  bool check = false;  // --check: load the files as at start, report, exit
};

// Loads the policy files, all or nothing; prints problems like `ipsecctl validate`.
bool load(const Options& o, std::vector<daemon::DaemonConnection>& out) {
  if (o.config_files.empty()) return true;
  daemon::LoadedConnections r = daemon::load_connections(o.config_files, o.port, false);
  for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", printable_line(w).c_str());
  for (const auto& e : r.errors) std::fprintf(stderr, "error: %s\n", printable_line(e).c_str());
  if (!r.ok()) return false;
  out = std::move(r.connections);
  daemon::assign_reqids(out);
  return true;
}

uint32_t default_workers() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<uint32_t>(std::clamp<long>(n, 1, daemon::kMaxWorkers));
}

// The in-memory kernel has no clock of its own: once a second it is given the wall time
// and announces the EXPIREs of SAs whose lifetimes ran out, as XFRM's timers would (the
// daemon's subscription receives them like the real kernel's).
class MemoryKernelClock {
 public:
  explicit MemoryKernelClock(std::shared_ptr<daemon::SharedKernel> shared)
      : thread_([shared](std::stop_token stop) {
          while (!stop.stop_requested()) {
            {
              std::lock_guard lock(shared->mutex);
              auto& k = static_cast<kernel::MemoryKernel&>(*shared->kernel);
              k.set_time(static_cast<uint64_t>(::time(nullptr)));
              (void)k.poll_expires();
            }
            for (int i = 0; i < 10 && !stop.stop_requested(); ++i)
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }) {}

 private:
  std::jthread thread_;
};

// --memory-kernel: one in-memory kernel that every worker reaches under one mutex;
// otherwise one netlink socket per worker.
daemon::KernelFactory kernel_factory(bool memory, std::unique_ptr<MemoryKernelClock>& ticker) {
  if (memory) {
    auto mk = std::make_unique<kernel::MemoryKernel>();
    mk->set_time(static_cast<uint64_t>(::time(nullptr)));
    auto shared = std::make_shared<daemon::SharedKernel>(std::move(mk));
    ticker = std::make_unique<MemoryKernelClock>(shared);
    return [shared]() -> Result<std::unique_ptr<kernel::Kernel>> {
      return std::unique_ptr<kernel::Kernel>(std::make_unique<daemon::LockedKernel>(shared));
    };
  }
  return []() -> Result<std::unique_ptr<kernel::Kernel>> {
    auto k = netlink::XfrmKernel::open();
    if (!k) return fail(std::move(k.error()));
    return std::unique_ptr<kernel::Kernel>(std::move(*k));
  };
}

bool write_pid_file(const std::string& path) {
  std::ofstream f(path, std::ios::trunc);
  f << ::getpid() << "\n";
  return static_cast<bool>(f.flush());
}

int serve(const Options& o, std::vector<daemon::DaemonConnection> conns) {
  daemon::DaemonOptions dopts;
  dopts.control_path = o.control_path;
  dopts.workers = o.workers != 0 ? o.workers : default_workers();
  dopts.port = o.port;
  const int natt = o.natt_port >= 0 ? o.natt_port : (o.port + 4000 <= 65535 ? o.port + 4000 : 0);
  if (natt != 0 && natt == o.port) {
    std::fprintf(stderr, "error: --natt-port %d is the IKE port (--port)\n", natt);
    return 1;
  }
  dopts.natt_port = static_cast<uint16_t>(natt);
  dopts.natt_keepalive = ike::Millis(1000ull * o.natt_keepalive);
  dopts.half_open_timeout = ike::Millis(1000ull * o.half_open_timeout);
  dopts.reconcile_interval = ike::Millis(1000ull * o.reconcile_interval);
  dopts.leftover_grace = ike::Millis(1000ull * o.leftover_grace);
  dopts.reqids_file = o.reqids_file;
  dopts.state_file = o.state_file;
  dopts.cookie_threshold = o.cookie_threshold;
  dopts.half_open_per_source = o.half_open_per_source;
  // Signals belong to the daemon's signalfd: blocked before any thread starts (the
  // memory kernel's clock below inherits the mask; Daemon::create blocks the same set).
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  ::pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  std::unique_ptr<MemoryKernelClock> ticker;  // holds its own reference to the kernel
  auto d = daemon::Daemon::create(dopts, kernel_factory(o.memory_kernel, ticker), std::move(conns));
  if (!d) {
    std::fprintf(stderr, "error: %s%s\n", printable_line(d.error().message).c_str(),
                 d.error().message.rfind("kernel:", 0) == 0 ? " (try --memory-kernel)" : "");
    return 1;
  }
  if (!o.pid_file.empty() && !write_pid_file(o.pid_file)) {
    std::fprintf(stderr, "error: cannot write %s\n", printable_line(o.pid_file).c_str());
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
  app.add_option("--config", o.config_files,
                 "Policy files with connections (ipsecctl load replaces them while running)")
      ->expected(1, -1);
  app.add_flag("--memory-kernel", o.memory_kernel,
               "Keep SAs in memory instead of the kernel (for kernels without ESP)");
  app.add_option("--control", o.control_path, "Control socket path")->capture_default_str();
  app.add_option("--port", o.port, "IKE UDP port, local and remote")->capture_default_str();
  app.add_option("--natt-port", o.natt_port,
                 "NAT traversal port (RFC 7296 §2.23, UDP-encapsulated ESP, IKE behind the "
                 "non-ESP marker); 0 disables NAT traversal (default: --port + 4000, so 4500)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--natt-keepalive", o.natt_keepalive,
                 "Seconds between NAT keepalives while behind a NAT; 0: none")
      ->check(CLI::Range(0u, 3600u))
      ->capture_default_str();
  app.add_option("--half-open-timeout", o.half_open_timeout,
                 "Seconds a responder IKE SA may wait for IKE_AUTH after IKE_SA_INIT")
      ->check(CLI::Range(1u, 3600u))
      ->capture_default_str();
  app.add_option("--reconcile-interval", o.reconcile_interval,
                 "Seconds between comparisons of the kernel's SAs and policies with ipsecd's "
                 "(drift repair; also soon after the kernel reports a deletion or a flush); "
                 "0: on kernel events only")
      ->check(CLI::Range(0u, 86400u))
      ->capture_default_str();
  app.add_option("--leftover-grace", o.leftover_grace,
                 "Seconds at most that SAs and policies a previous ipsecd left in the kernel "
                 "(after a crash) are kept while the connections come up again")
      ->check(CLI::Range(0u, 3600u))
      ->capture_default_str();
  app.add_option("--reqids-file", o.reqids_file,
                 "Where ipsecd records the reqids it uses, for crash recovery (default: the "
                 "control socket's path with .reqids; -: nowhere)");
  app.add_option("--state-file", o.state_file,
                 "Where `ipsecctl shutdown --keep` leaves the IKE SAs for the next ipsecd, "
                 "which continues them at start (default: the control socket's path with "
                 ".state; -: nowhere)");
  app.add_option("--cookie-threshold", o.cookie_threshold,
                 "Half-open IKE SAs from which IKE_SA_INIT needs a COOKIE (RFC 7296 §2.6); "
                 "0: always")
      ->check(CLI::Range(0u, 1000000u))
      ->capture_default_str();
  app.add_option("--half-open-per-source", o.half_open_per_source,
                 "Half-open IKE SAs one peer address may hold; more IKE_SA_INIT requests "
                 "from it are dropped; 0: no limit")
      ->check(CLI::Range(0u, 1000000u))
      ->capture_default_str();
  app.add_option("--workers", o.workers,
                 "Worker threads, each with its own IKE engine and kernel socket; the kernel "
                 "steers every IKE message to the worker owning its SPI (default: one per "
                 "online CPU)")
      ->check(CLI::Range(1u, daemon::kMaxWorkers));
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--pid-file", o.pid_file, "Write the process id to this file");
  app.add_flag("--check", o.check,
               "Check the --config files exactly as ipsecd would load them, print every problem, "
               "exit 0 (usable) or 1; nothing is started");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;  // a bad command line, as for ipsecctl
  }

  const std::map<std::string, log::Level> levels{{"debug", log::Level::Debug},
                                                 {"info", log::Level::Info},
                                                 {"warn", log::Level::Warn},
                                                 {"error", log::Level::Error}};
  log::set_level(levels.at(o.log_level));
  std::vector<daemon::DaemonConnection> conns;
  if (!load(o, conns)) return 1;
  if (o.check) {
    std::printf("ok: %zu connection%s\n", conns.size(), conns.size() == 1 ? "" : "s");
    return 0;
  }
  return serve(o, std::move(conns));
}
