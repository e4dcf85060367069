// SPDX-License-Identifier: Apache-2.0
// ipsecd's composition root: the main thread's epoll loop (signalfd, control socket, the
// kernel's ACQUIRE and EXPIRE events, the engines' events for `monitor`) and the worker
// threads (daemon/worker.h), each with its own IKEv2 engine, kernel handle and UDP
// sockets; the kernel steers every IKE message to the worker owning its SPI.
#pragma once

#include <functional>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "control/protocol.h"
#include "daemon/clock.h"
#include "daemon/config.h"
#include "daemon/control_server.h"
#include "daemon/event_queue.h"
#include "daemon/fd.h"
#include "daemon/worker.h"
#include "ike/policy_refs.h"
#include "kernel/kernel.h"

namespace ipsec::daemon {

struct DaemonOptions {
  std::string control_path = control::kDefaultSocket;
  // SIGTERM/SIGINT: how long to wait for the peers to answer our Deletes.
  ike::Millis shutdown_wait{3000};
  uint32_t workers = 1;  // 1..kMaxWorkers
  uint16_t port = 500;   // IKE UDP port of connections loaded later (ipsecctl load)
  // NAT traversal (RFC 7296 §2.23): a NAT-T socket beside every IKE socket; 0: none.
  uint16_t natt_port = 4500;
  ike::Millis natt_keepalive{20000};  // 0: no keepalives
  // Half-open responder SAs: timeout, COOKIE threshold, per-source limit (ike::EngineLimits).
  ike::Millis half_open_timeout{30000};
  size_t cookie_threshold = 128;
  size_t half_open_per_source = 32;
  // Drift repair: the kernel's SAs and policies compared with ours this often (also soon
  // after the kernel announces a deletion, a flush or a policy change); 0: on events only.
  ike::Millis reconcile_interval{30000};
  // Crash recovery: how long SAs and policies a previous ipsecd left in the kernel (with
  // the reqids of our children) are kept, at most, while the connections come up again.
  ike::Millis leftover_grace{60000};
  // Where ipsecd records the reqids it uses, so that after a crash the next one recognises
  // what it left even of connections since removed: the control socket's path with
  // ".reqids" (beside it, in a directory that is ipsecd's); "-": nowhere.
  std::string reqids_file;
  // Restart keeping the tunnels (handover.cpp): where `ipsecctl shutdown --keep` leaves the
  // IKE SAs for the next ipsecd, which continues them at start: the control socket's path
  // with ".state"; "-": nowhere (a restart renegotiates).
  std::string state_file;
};

inline constexpr uint32_t kMaxWorkers = 64;

// One kernel handle per worker: a netlink socket each, or views of one shared kernel.
using KernelFactory = std::function<Result<std::unique_ptr<kernel::Kernel>>()>;

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> create(const DaemonOptions& options,
                                                const KernelFactory& kernels,
                                                std::vector<DaemonConnection> connections);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM/SIGINT and a graceful shutdown; returns the exit status.
  int run();

 private:
  Daemon(DaemonOptions options, std::vector<DaemonConnection> connections);
  Result<void> setup(const KernelFactory& kernels);
  Result<void> watch(int fd);  // EPOLLIN on the main loop
  Result<void> open_sockets(const std::vector<DaemonConnection>& conns);
  Worker& owner(const std::string& connection);
  void start_connections(const std::vector<std::string>& names);
  // Trap policies of the connections among `names` whose start action is trap, each on
  // its owning worker; a failure is logged and added to `problems` when given.
  void install_traps(const std::vector<std::string>& names, std::vector<std::string>* problems);
  // Every worker's trap policies of `name` (DPD and close actions may trap elsewhere).
  void remove_traps(const std::string& name);
  void remove_all_traps();
  void on_signal();
  void on_kernel_events();
  void on_acquire(const kernel::AcquireEvent& e);
  void on_expire(const kernel::ExpireEvent& e);
  // Drift repair (drift.cpp): an SA or policy event asks for a reconcile soon; reconcile()
  // dumps the kernel once and has PolicyRefs and every engine repair what is theirs.
  void on_kernel_change(const kernel::Event& e);
  void reconcile();
  ike::Millis reconcile_due();  // when the next reconcile is due (0: none)
  int reconcile_timeout();      // ms until the main loop should look again, for epoll_wait
  // Crash recovery (drift.cpp): what a previous ipsecd left, found at start; removed once
  // the CHILD SA of its reqid is up again here, or after leftover_grace.
  void find_leftovers();
  void clean_leftovers();
  // The reqids file in state_dir: what a previous ipsecd recorded; ours (and `also`) now.
  std::string reqids_path() const;  // empty: none
  std::set<uint32_t> recorded_reqids() const;
  void record_reqids(const std::set<uint32_t>& also = {}) const;
  void on_engine_events();
  void begin_shutdown();
  // Restart keeping the tunnels (handover.cpp): `shutdown --keep` waits (shutdown_wait at
  // most) for exchanges in flight, then writes every IKE SA it can to the state file and
  // exits without touching the kernel; the next ipsecd reads the file at start, continues
  // those IKE SAs and rekeys any CHILD SA the kernel lost meanwhile.
  std::string state_path() const;  // empty: none
  void begin_handover();
  int stop_for_handover();  // run()'s end when keeping_
  bool handover_ready();
  void save_state();
  void restore_state();
  size_t take_over(ByteView file, std::vector<std::string>& problems);
  bool has_sa(const std::string& connection);
  control::Response shutdown(const control::Request& r, const Peer& peer);
  bool shutdown_done();

  // "N connection(s), M worker(s)": the service status after start and after a load.
  std::string summary() const;

  // The control commands (commands.cpp): `handle` finds the request's row in kCommands.
  using Handler = control::Response (Daemon::*)(const control::Request&, const Peer&);
  struct Command {
    std::string_view name;
    Handler run;
    bool refused_while_stopping;  // "ipsecd is shutting down" before `run`
    bool names_connection;        // `no connection "NAME"` before `run` unless r.name is one
  };
  static const Command kCommands[];
  control::Response handle(const control::Request& r, const Peer& peer);
  control::Response status(const control::Request& r, const Peer& peer);
  control::Response list_conns(const control::Request& r, const Peer& peer);
  control::Response list_certs(const control::Request& r, const Peer& peer);  // certs.cpp
  control::Response up(const control::Request& r, const Peer& peer);
  control::Response down(const control::Request& r, const Peer& peer);
  control::Response down_one(const std::string& name);
  control::Response down_all();
  control::Response restart(const control::Request& r, const Peer& peer);
  control::Response monitor(const control::Request& r, const Peer& peer);

  // Reloading (reload.cpp): `load` replaces the connections with those of r.files.
  control::Response load(const control::Request& r, const Peer& peer);
  control::Response load_files(const std::vector<std::string>& files, const Peer& peer);
  std::vector<std::string> apply(const ConfigDiff& d, std::vector<DaemonConnection> next);

  const DaemonConnection* find_connection(const std::string& name) const;
  // Deletes the established IKE SAs of a connection (every connection when `name` is
  // empty) in every worker; their connections and SPIs.
  std::vector<std::pair<std::string, uint64_t>> delete_sas_of(const std::string& name);

  DaemonOptions options_;
  std::vector<DaemonConnection> connections_;
  std::vector<ike::Endpoint> bound_;  // local endpoints with a socket in every worker
  MonotonicClock clock_;
  // Declared before the workers: their engines push into it until they stop.
  EventQueue events_;
  std::shared_ptr<ike::PolicyRefs> policies_ = std::make_shared<ike::PolicyRefs>();
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<kernel::Kernel> events_kernel_;  // the main thread's own handle
  std::unique_ptr<kernel::EventSource> kernel_events_;
  Fd epoll_, signal_;
  std::unique_ptr<ControlServer> control_;
  bool stopping_ = false;
  bool keeping_ = false;  // stopping for a handover: the kernel keeps everything
  ike::Millis stop_deadline_{0};
  // Drift repair: when the next reconcile runs (an event may bring it forward), the last
  // one, and what PolicyRefs repaired so far (status counters).
  ike::Millis reconcile_at_{0}, last_reconcile_{0};
  uint64_t policies_reinstalled_ = 0, policies_restored_ = 0, foreign_policies_ = 0;
  std::vector<kernel::SaParams> leftover_sas_;
  std::atomic<bool> child_up_{false};  // set by the workers' event handlers
  ike::Millis leftovers_until_{0};  // 0: nothing left over (any more)
  uint64_t leftover_sas_removed_ = 0, leftover_policies_removed_ = 0;
};

}  // namespace ipsec::daemon
