// ipsecd's composition root: the epoll loop that joins UDP sockets, the timerfd, the
// signalfd and the control socket to the IKEv2 engine and the kernel.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "control/protocol.h"
#include "daemon/clock.h"
#include "daemon/control_server.h"
#include "daemon/fd.h"
#include "daemon/udp.h"
#include "ike/v2/engine.h"
#include "kernel/kernel.h"
#include "policy/connection.h"

namespace ipsec::daemon {

// A connection as the daemon runs it: the engine's config and what to do at start.
struct DaemonConnection {
  ike::v2::ConnectionConfig config;
  policy::StartAction start_action = policy::StartAction::None;
};

struct DaemonOptions {
  std::string control_path = control::kDefaultSocket;
  // SIGTERM/SIGINT: how long to wait for the peers to answer our Deletes.
  ike::v2::Millis shutdown_wait{3000};
};

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> create(const DaemonOptions& options,
                                                std::unique_ptr<kernel::Kernel> kernel,
                                                std::vector<DaemonConnection> connections);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM/SIGINT and a graceful shutdown; returns the exit status.
  int run();

 private:
  Daemon(DaemonOptions options, std::unique_ptr<kernel::Kernel> kernel,
         std::vector<DaemonConnection> connections);
  Result<void> setup();
  Result<void> watch(int fd);
  void start_connections();
  void dispatch(int fd);
  void on_udp(const UdpSocket& s);
  void on_timer();
  void on_signal();
  void arm_timer();
  void track_ages();
  void begin_shutdown();
  bool shutdown_done() const;

  control::Response handle(const control::Request& r);
  control::Response up(const std::string& name);
  control::Response down(const std::string& name);
  control::Response list_conns() const;
  const DaemonConnection* find_connection(const std::string& name) const;

  DaemonOptions options_;
  std::unique_ptr<kernel::Kernel> kernel_;
  std::vector<DaemonConnection> connections_;
  MonotonicClock clock_;
  std::vector<UdpSocket> sockets_;
  UdpSender sender_{sockets_};
  std::unique_ptr<ike::v2::Engine> engine_;
  Fd epoll_, timer_, signal_;
  std::unique_ptr<ControlServer> control_;
  std::map<uint64_t, ike::v2::Millis> first_seen_;  // by local SPI, for status ages
  bool stopping_ = false;
  ike::v2::Millis stop_deadline_{0};
};

}  // namespace ipsec::daemon
