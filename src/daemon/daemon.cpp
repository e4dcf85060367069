// SPDX-License-Identifier: Apache-2.0
// ipsecd's main thread: setup, the event loop (signals, kernel and engine events, the
// control socket), shutdown; the commands are in commands.cpp, `load` in reload.cpp.
#include "daemon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <variant>

#include "common/log.h"
#include "daemon/sd_notify.h"
#include "daemon/shard.h"

namespace ipsec::daemon {

namespace {

using ike::Millis;

constexpr int kMaxEvents = 32;
constexpr int64_t kShutdownPollMs = 50;
constexpr size_t kMaxEngineEventsPerWakeup = 256;  // bounded: the rest on the next wakeup

Error sys_error(const std::string& what) {
  int err = errno;
  return Error{what + ": " + std::strerror(err), err};
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::create(const DaemonOptions& options,
                                               const KernelFactory& kernels,
                                               std::vector<DaemonConnection> connections) {
  if (options.workers < 1 || options.workers > kMaxWorkers)
    return fail("workers: " + std::to_string(options.workers) + " is not in 1.." +
                std::to_string(kMaxWorkers));
  std::unique_ptr<Daemon> d(new Daemon(options, std::move(connections)));
  if (auto r = d->setup(kernels); !r) return fail(r.error());
  return d;
}

Daemon::Daemon(DaemonOptions options, std::vector<DaemonConnection> connections)
    : options_(std::move(options)), connections_(std::move(connections)) {}

Daemon::~Daemon() {
  for (auto& w : workers_) w->stop();
}

Result<void> Daemon::watch(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return fail(sys_error("epoll_ctl"));
  return ok();
}

Result<void> Daemon::setup(const KernelFactory& kernels) {
  // Blocked before any worker starts, so that only the signalfd sees them.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);  // not a reload (that is `ipsecctl load`), and never a silent death
  if (::pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) return fail("pthread_sigmask failed");
  ::signal(SIGPIPE, SIG_IGN);
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  signal_ = Fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!epoll_.valid() || !signal_.valid()) return fail(sys_error("epoll or signalfd"));
  if (auto r = watch(signal_.get()); !r) return r;
  if (auto r = events_.open(); !r) return r;
  if (auto r = watch(events_.fd()); !r) return r;
  for (uint32_t i = 0; i < options_.workers; ++i) {
    auto k = kernels();
    if (!k) return fail("kernel: " + k.error().message);
    ike::EngineLimits limits;
    limits.half_open_timeout = options_.half_open_timeout;
    limits.cookie_threshold = options_.cookie_threshold;
    limits.half_open_per_source = options_.half_open_per_source;
    auto w = Worker::create(i, options_.workers, std::move(*k), clock_, policies_, limits);
    if (!w) return fail(w.error());
    ike::Ike& engine = (*w)->engine();
    engine.set_nat(ike::NatConfig{options_.natt_port, options_.natt_keepalive});
    engine.set_event_handler([this](const ike::EngineEvent& e) {
      if (e.kind == ike::EventKind::ChildUp) child_up_ = true;  // crash recovery (drift.cpp)
      events_.push(e);
    });
    for (const DaemonConnection& c : connections_) engine.add_connection(c.config);
    workers_.push_back(std::move(*w));
  }
  // ACQUIRE (trap policies) and EXPIRE (CHILD SA lifetimes) on a handle of our own.
  auto k = kernels();
  if (!k) return fail("kernel: " + k.error().message);
  events_kernel_ = std::move(*k);
  // SA and policy changes too: drift repair (drift.cpp).
  auto source = events_kernel_->subscribe(kernel::kGroupAcquire | kernel::kGroupExpire |
                                          kernel::kGroupSa | kernel::kGroupPolicy);
  if (!source) return fail("kernel: subscribing to its XFRM events: " + source.error().message);
  kernel_events_ = std::move(*source);
  if (auto r = watch(kernel_events_->fd()); !r) return r;
  if (auto r = open_sockets(connections_); !r) return r;
  auto ctl = ControlServer::open(
      options_.control_path, epoll_.get(),
      [this](const control::Request& r, const Peer& p) { return handle(r, p); });
  if (!ctl) return fail(ctl.error());
  control_ = std::move(*ctl);
  return ok();
}

// Every local endpoint of `conns` not bound yet gets one socket per worker, all or none,
// and so does the NAT-T port of its address (a NAT-T socket, udp.h).
Result<void> Daemon::open_sockets(const std::vector<DaemonConnection>& conns) {
  std::vector<ike::Endpoint> fresh;
  auto add = [&](const ike::Endpoint& local) {
    if (std::find(bound_.begin(), bound_.end(), local) == bound_.end() &&
        std::find(fresh.begin(), fresh.end(), local) == fresh.end())
      fresh.push_back(local);
  };
  for (const DaemonConnection& c : conns) {
    add(c.config.local);
    if (options_.natt_port != 0) add(ike::Endpoint{c.config.local.addr, options_.natt_port});
  }
  std::vector<std::vector<UdpSocket>> groups;
  for (const auto& local : fresh) {
    const bool natt = options_.natt_port != 0 && local.port == options_.natt_port;
    auto g = open_udp_group(local, options_.workers, natt);
    if (!g) return fail(g.error());
    groups.push_back(std::move(*g));
  }
  for (size_t i = 0; i < fresh.size(); ++i) {
    for (uint32_t k = 0; k < options_.workers; ++k) {
      std::lock_guard lock(workers_[k]->mutex());
      if (auto r = workers_[k]->add_socket(std::move(groups[i][k])); !r) return r;
    }
    log::info("listening on " + fresh[i].str() +
              (groups[i].front().natt ? " (NAT-T, non-ESP marker)" : ""));
    bound_.push_back(fresh[i]);
  }
  return ok();
}

// `up`, start actions, traps and ACQUIREs go to a fixed worker per connection.
Worker& Daemon::owner(const std::string& connection) {
  return *workers_[worker_for_connection(connection, options_.workers)];
}

void Daemon::start_connections(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const DaemonConnection* c = find_connection(name);
    if (c == nullptr || !c->starts()) continue;
    Worker& w = owner(name);
    std::lock_guard lock(w.mutex());
    if (auto spi = w.engine().initiate(name); !spi)
      log::error("cannot start " + name + ": " + spi.error().message);
    w.wake();
  }
}

void Daemon::install_traps(const std::vector<std::string>& names,
                           std::vector<std::string>* problems) {
  for (const std::string& name : names) {
    const DaemonConnection* c = find_connection(name);
    if (c == nullptr || !c->traps()) continue;
    Worker& w = owner(name);
    std::lock_guard lock(w.mutex());
    if (auto r = w.engine().install_trap(name); !r) {
      std::string problem =
          "cannot install the trap policies of " + name + ": " + r.error().message;
      log::error(problem);
      if (problems != nullptr) problems->push_back(std::move(problem));
    } else {
      log::info(name + ": trap policies installed (on demand)");
    }
    w.wake();
  }
}

void Daemon::remove_traps(const std::string& name) {
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    if (w->engine().trapped(name)) w->engine().remove_trap(name);
  }
}

void Daemon::remove_all_traps() {
  size_t removed = 0;
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    for (const DaemonConnection& c : connections_)
      if (w->engine().trapped(c.config.name)) {
        w->engine().remove_trap(c.config.name);
        ++removed;
      }
  }
  if (removed != 0)
    log::info("removed the trap policies of " + std::to_string(removed) + " connection(s)");
}

std::vector<std::pair<std::string, uint64_t>> Daemon::delete_sas_of(const std::string& name) {
  std::vector<std::pair<std::string, uint64_t>> deleted;
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    std::vector<std::pair<std::string, uint64_t>> sas;
    for (const ike::IkeSaSummary& sa : w->engine().sas(false))
      if ((name.empty() || sa.connection == name) && sa.phase == ike::SaPhase::Established)
        sas.emplace_back(sa.connection, sa.local_spi);
    for (auto& [conn, spi] : sas) {
      if (auto r = w->engine().delete_ike_sa(spi); !r) {
        log::warn(r.error().message);
        continue;
      }
      deleted.emplace_back(std::move(conn), spi);
    }
    w->wake();
  }
  return deleted;
}

int Daemon::run() {
  log::info("ipsecd started with " + summary());
  for (auto& w : workers_) w->start();
  std::vector<std::string> names;
  for (const auto& c : connections_) names.push_back(c.config.name);
  restore_state();  // a restart that kept the tunnels: before leftovers are judged
  find_leftovers();
  install_traps(names, nullptr);
  std::vector<std::string> to_start;  // not those continued from the previous ipsecd
  for (const std::string& n : names)
    if (!has_sa(n)) to_start.push_back(n);
  start_connections(to_start);
  notify::ready(summary());
  epoll_event events[kMaxEvents];
  for (;;) {
    if (!stopping_) {
      const ike::Millis due = reconcile_due();
      if (due != ike::Millis{0} && due <= clock_.now()) reconcile();
    }
    // A CHILD SA up may be what leftovers of a previous ipsecd waited for.
    if (!stopping_ && leftovers_until_ != ike::Millis{0} && child_up_.exchange(false))
      clean_leftovers();
    int timeout = control_->timeout_ms();  // control clients that stall are dropped
    if (!stopping_) {  // drift repair and crash recovery (drift.cpp)
      const int r = reconcile_timeout();
      if (r >= 0 && (timeout < 0 || r < timeout)) timeout = r;
    }
    if (stopping_) {
      int64_t left = (stop_deadline_ - clock_.now()).count();
      if (left <= 0 || (keeping_ ? handover_ready() : shutdown_done())) break;
      int64_t poll = std::min(left, kShutdownPollMs);
      timeout = static_cast<int>(timeout < 0 ? poll : std::min<int64_t>(timeout, poll));
    }
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      log::error(sys_error("epoll_wait").message);
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == signal_.get())
        on_signal();
      else if (fd == kernel_events_->fd())
        on_kernel_events();
      else if (fd == events_.fd())
        on_engine_events();
      else if (fd == control_->listen_fd())
        control_->on_accept();
      else if (control_->is_client(fd))
        control_->on_client(fd, events[i].events);
    }
    control_->expire();
    events_.set_listening(control_->monitors() != 0);
  }
  if (keeping_) return stop_for_handover();
  // Nothing we installed stays: the IKE SAs took their CHILD SAs with them, the traps go now.
  remove_all_traps();
  size_t left = 0;
  for (auto& w : workers_) {
    w->stop();
    left += w->engine().sas(false).size();
  }
  on_engine_events();  // the last ones (IKE SAs going down) to the monitors
  if (left != 0) log::warn(std::to_string(left) + " IKE SA(s) left without the peer's answer");
  log::info("ipsecd stopped");
  return 0;
}

// The kernel keeps everything (CHILD SAs, policies, traps): the next ipsecd takes over.
int Daemon::stop_for_handover() {
  for (auto& w : workers_) w->stop();
  save_state();
  on_engine_events();
  log::info("ipsecd stopped; its tunnels stay up for the next one");
  return 0;
}

void Daemon::on_signal() {
  signalfd_siginfo si{};
  while (::read(signal_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGHUP) {
      log::warn("received SIGHUP: ignored; reload connections with `ipsecctl load FILE...`");
      continue;
    }
    log::info(std::string("received ") + ::strsignal(static_cast<int>(si.ssi_signo)));
    if (!stopping_) begin_shutdown();
  }
}

// One read of the kernel's events (itself bounded); the rest on the next wakeup.
void Daemon::on_kernel_events() {
  auto events = kernel_events_->read();
  if (!events) {
    // ENOBUFS: the kernel dropped events; the engines' own timers still run.
    log::warn("kernel events: " + events.error().message);
    return;
  }
  for (const kernel::Event& e : *events) {
    if (stopping_) continue;  // no new negotiations while shutting down
    if (const auto* a = std::get_if<kernel::AcquireEvent>(&e))
      on_acquire(*a);
    else if (const auto* x = std::get_if<kernel::ExpireEvent>(&e))
      on_expire(*x);
    else
      on_kernel_change(e);
  }
}

// To the worker holding an IKE SA of the connection whose CHILD SA has the template's
// reqid, else to the worker owning that connection.
void Daemon::on_acquire(const kernel::AcquireEvent& e) {
  const DaemonConnection* c = nullptr;
  for (const DaemonConnection& d : connections_)
    if (d.config.child_by_reqid(e.tmpl.reqid) != nullptr) c = &d;
  if (c == nullptr) {
    log::debug("kernel ACQUIRE for reqid " + std::to_string(e.tmpl.reqid) + " (" +
               kernel::describe(e.policy) + "): no connection has it");
    return;
  }
  // A worker that already holds an IKE SA of the connection (the peer initiated it, and
  // its SPI steered it elsewhere) takes it: one negotiation, not one per worker.
  Worker* holder = nullptr;
  for (auto& x : workers_) {
    if (holder != nullptr) break;
    std::lock_guard lock(x->mutex());
    for (const ike::IkeSaSummary& sa : x->engine().sas(false))
      if (sa.connection == c->config.name && !sa.replaced && sa.phase != ike::SaPhase::Gone)
        holder = x.get();
  }
  Worker& w = holder != nullptr ? *holder : owner(c->config.name);
  std::lock_guard lock(w.mutex());
  if (!w.engine().on_acquire(e))
    log::debug("kernel ACQUIRE for " + c->config.name + " (reqid " + std::to_string(e.tmpl.reqid) +
               ") not taken by its worker");
  w.wake();
}

// Every worker is asked until one owns the SA.
void Daemon::on_expire(const kernel::ExpireEvent& e) {
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    if (w->engine().on_expire(e)) {
      w->wake();
      return;
    }
  }
  log::debug(std::string("kernel ") + (e.hard ? "hard" : "soft") + " EXPIRE of " +
             kernel::describe(e.sa) + ": not one of our CHILD SAs");
}

void Daemon::on_engine_events() {
  uint64_t dropped = 0;
  std::vector<control::Event> events = events_.take(kMaxEngineEventsPerWakeup, dropped);
  if (dropped != 0)
    log::warn("monitor: " + std::to_string(dropped) + " event(s) dropped, more than " +
              std::to_string(EventQueue::kMaxQueued) + " were waiting");
  for (const control::Event& e : events) control_->broadcast(control::encode(e) + "\n");
}

// Every worker deletes its established IKE SAs (their CHILD SAs leave the kernel at
// once); run() waits, bounded, for the peers' answers.
void Daemon::begin_shutdown() {
  stopping_ = true;
  stop_deadline_ = clock_.now() + options_.shutdown_wait;
  size_t deleting = 0;
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    deleting += w->delete_all();
    w->wake();
  }
  log::info("shutting down: deleting " + std::to_string(deleting) + " IKE SA(s)");
  notify::stopping("deleting " + std::to_string(deleting) + " IKE SA(s)");
}

bool Daemon::shutdown_done() {
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    if (!w->idle()) return false;
  }
  return true;
}

std::string Daemon::summary() const {
  return std::to_string(connections_.size()) + " connection(s), " +
         std::to_string(workers_.size()) + " worker(s)";
}

const DaemonConnection* Daemon::find_connection(const std::string& name) const {
  for (const DaemonConnection& c : connections_)
    if (c.config.name == name) return &c;
  return nullptr;
}

}  // namespace ipsec::daemon
