// SPDX-License-Identifier: Apache-2.0
// ipsecd's main thread: signals, the control socket, and the workers it drives.
#include "daemon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <variant>

#include "common/log.h"
#include "daemon/sd_notify.h"
#include "daemon/shard.h"
#include "daemon/status.h"

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

const char* start_action_name(ike::StartAction a) {
  switch (a) {
    case ike::StartAction::Start:
      return "start";
    case ike::StartAction::Trap:
      return "trap";
    case ike::StartAction::None:
      break;
  }
  return "none";
}

// `none`: what None is called (dpd_action "clear", close_action "none").
const char* peer_gone_name(ike::PeerGoneAction a, const char* none) {
  switch (a) {
    case ike::PeerGoneAction::Restart:
      return "restart";
    case ike::PeerGoneAction::Trap:
      return "trap";
    case ike::PeerGoneAction::None:
      break;
  }
  return none;
}

uint64_t secs(std::chrono::seconds s) { return s.count() > 0 ? uint64_t(s.count()) : 0; }

bool trap_connection(const DaemonConnection& c) { return c.traps(); }

// "lan, dmz (on-demand)": the children with their start action when not the first's.
std::string children_names(const ike::ConnectionConfig& k) {
  std::string out;
  for (const auto& c : k.children) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

bool contains(const std::vector<std::string>& sorted, const std::string& name) {
  return std::binary_search(sorted.begin(), sorted.end(), name);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "-" : out;
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
    auto w = Worker::create(i, options_.workers, std::move(*k), clock_, policies_);
    if (!w) return fail(w.error());
    ike::Ike& engine = (*w)->engine();
    engine.set_nat(ike::NatConfig{options_.natt_port, options_.natt_keepalive});
    engine.set_event_handler([this](const ike::EngineEvent& e) { events_.push(e); });
    for (const DaemonConnection& c : connections_) engine.add_connection(c.config);
    workers_.push_back(std::move(*w));
  }
  // ACQUIRE (trap policies) and EXPIRE (CHILD SA lifetimes) on a handle of our own.
  auto k = kernels();
  if (!k) return fail("kernel: " + k.error().message);
  events_kernel_ = std::move(*k);
  auto source = events_kernel_->subscribe(kernel::kGroupAcquire | kernel::kGroupExpire);
  if (!source) return fail("kernel: subscribing to ACQUIRE and EXPIRE: " + source.error().message);
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
    if (c == nullptr || !trap_connection(*c)) continue;
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

int Daemon::run() {
  log::info("ipsecd started with " + std::to_string(connections_.size()) + " connection(s), " +
            std::to_string(workers_.size()) + " worker(s)");
  for (auto& w : workers_) w->start();
  std::vector<std::string> names;
  for (const auto& c : connections_) names.push_back(c.config.name);
  install_traps(names, nullptr);
  start_connections(names);
  notify::ready(std::to_string(connections_.size()) + " connection(s), " +
                std::to_string(workers_.size()) + " worker(s)");
  epoll_event events[kMaxEvents];
  for (;;) {
    int timeout = -1;
    if (stopping_) {
      int64_t left = (stop_deadline_ - clock_.now()).count();
      if (left <= 0 || shutdown_done()) break;
      timeout = static_cast<int>(std::min(left, kShutdownPollMs));
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
    events_.set_listening(control_->monitors() != 0);
  }
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

const DaemonConnection* Daemon::find_connection(const std::string& name) const {
  for (const DaemonConnection& c : connections_)
    if (c.config.name == name) return &c;
  return nullptr;
}

control::Response Daemon::handle(const control::Request& r, const Peer& peer) {
  if (r.command == "status") return status();
  if (r.command == "list-conns") return list_conns();
  if (r.command == "up") return up(r.name);
  if (r.command == "down") {
    if (r.all && !r.name.empty())
      return control::Response::failure("down: a connection name or all, not both");
    return r.all ? down_all() : down(r.name);
  }
  if (r.command == "restart") return restart(r.name);
  if (r.command == "monitor") return monitor();
  if (r.command == "load") {
    notify::reloading("loading " + std::to_string(r.files.size()) + " policy file(s)");
    control::Response resp = load(r.files, peer);
    notify::ready(resp.ok ? std::to_string(connections_.size()) + " connection(s), " +
                                std::to_string(workers_.size()) + " worker(s)"
                          : resp.error);
    return resp;
  }
  return control::Response::failure("unknown command \"" + r.command + "\"");
}

control::Response Daemon::status() {
  control::Status all;
  const uint64_t wall = static_cast<uint64_t>(::time(nullptr));
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    const ike::Ike& e = w->engine();
    merge(all, make_status({e.sas(), e.closed_sas(), e.counters()}, w->kernel(), w->index(),
                           clock_.now(), wall));
  }
  control::Response resp;
  resp.data = control::to_json(all);
  return resp;
}

control::Response Daemon::up(const std::string& name) {
  if (stopping_) return control::Response::failure("ipsecd is shutting down");
  if (!find_connection(name)) return control::Response::failure("no connection \"" + name + "\"");
  Worker& w = *workers_[worker_for_connection(name, options_.workers)];
  std::lock_guard lock(w.mutex());
  auto spi = w.engine().initiate(name);
  w.wake();
  if (!spi) return control::Response::failure(spi.error().message);
  control::Response resp;
  resp.data = {{"connection", name}, {"spi_i", control::spi_hex(*spi, 16)}};
  return resp;
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

control::Response Daemon::down(const std::string& name) {
  if (name.empty()) return control::Response::failure("down: no connection named");
  if (!find_connection(name)) return control::Response::failure("no connection \"" + name + "\"");
  auto sas = delete_sas_of(name);
  if (sas.empty()) return control::Response::failure("no established IKE SA of \"" + name + "\"");
  nlohmann::json deleted = nlohmann::json::array();
  for (const auto& sa : sas) deleted.push_back(control::spi_hex(sa.second, 16));
  control::Response resp;
  resp.data = {{"connection", name}, {"deleted", deleted}};
  return resp;
}

// Every established IKE SA, whatever its connection; none is not an error.
control::Response Daemon::down_all() {
  auto sas = delete_sas_of("");
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [conn, spi] : sas)
    list.push_back({{"connection", conn}, {"ike_spi", control::spi_hex(spi, 16)}});
  log::info("down --all: deleting " + std::to_string(sas.size()) + " IKE SA(s)");
  control::Response resp;
  resp.data = {{"sas", list}};
  return resp;
}

// Like down, then up again; a trap connection goes back to its trap policies instead (the
// next packet brings it up).
control::Response Daemon::restart(const std::string& name) {
  if (stopping_) return control::Response::failure("ipsecd is shutting down");
  const DaemonConnection* c = name.empty() ? nullptr : find_connection(name);
  if (c == nullptr) return control::Response::failure("no connection \"" + name + "\"");
  auto sas = delete_sas_of(name);
  nlohmann::json deleted = nlohmann::json::array();
  for (const auto& sa : sas) deleted.push_back(control::spi_hex(sa.second, 16));
  control::Response resp;
  resp.data = {{"connection", name}, {"deleted", deleted}};
  Worker& w = owner(name);
  std::lock_guard lock(w.mutex());
  if (trap_connection(*c)) {
    auto r = w.engine().trapped(name) ? Result<void>{} : w.engine().install_trap(name);
    w.wake();
    if (!r)
      return control::Response::failure("cannot install the trap policies of " + name + ": " +
                                        r.error().message);
    resp.data["trap"] = true;
    return resp;
  }
  auto spi = w.engine().initiate(name);
  w.wake();
  if (!spi) return control::Response::failure(spi.error().message);
  resp.data["spi_i"] = control::spi_hex(*spi, 16);
  return resp;
}

// The control server streams events to the client from here on (control_server.h).
control::Response Daemon::monitor() {
  if (stopping_) return control::Response::failure("ipsecd is shutting down");
  events_.set_listening(true);
  control::Response resp;
  resp.data = {{"monitor", true}};
  return resp;
}

// All or nothing: the files must load without error and their new local addresses must
// bind before anything changes. Unchanged connections keep their SAs.
control::Response Daemon::load(const std::vector<std::string>& files, const Peer& peer) {
  if (peer.uid != 0 && peer.uid != ::geteuid())
    return control::Response::failure("load refused: only root or ipsecd's own user (uid " +
                                      std::to_string(::geteuid()) + ") may load policy files, " +
                                      "not uid " + std::to_string(peer.uid));
  if (stopping_) return control::Response::failure("ipsecd is shutting down");
  if (files.empty()) return control::Response::failure("load refused: no policy files given");
  LoadedConnections next = load_connections(files, options_.port, true);
  for (const auto& w : next.warnings) log::warn("load: " + w);
  if (next.ok()) {
    assign_reqids(next.connections, connections_);
    if (auto r = open_sockets(next.connections); !r) next.errors.push_back(r.error().message);
  }
  if (!next.ok()) {
    control::Response refused = control::Response::failure(
        "load refused: " + std::to_string(next.errors.size()) + " problem(s)");
    refused.details = next.errors;
    log::warn(refused.error + ": " + next.errors.front());
    return refused;
  }
  ConfigDiff d = diff(connections_, next.connections);
  // A reqid that moved (a file now claims it) makes the connection changed too.
  for (auto it = d.unchanged.begin(); it != d.unchanged.end();) {
    const DaemonConnection* old = find_connection(*it);
    auto now = std::find_if(next.connections.begin(), next.connections.end(),
                            [&](const DaemonConnection& c) { return c.config.name == *it; });
    auto reqids = [](const DaemonConnection& c) {
      std::vector<uint32_t> out;
      for (const auto& child : c.config.children) out.push_back(child.reqid);
      return out;
    };
    if (reqids(*old) == reqids(*now)) {
      ++it;
      continue;
    }
    d.changed.insert(std::upper_bound(d.changed.begin(), d.changed.end(), *it), *it);
    it = d.unchanged.erase(it);
  }
  std::vector<std::string> problems = apply(d, std::move(next.connections));
  log::info("load: added " + joined(d.added) + "; changed " + joined(d.changed) + "; removed " +
            joined(d.removed) + "; unchanged " + joined(d.unchanged));
  control::Response resp;
  resp.data = control::to_json(control::LoadSummary{d.added, d.changed, d.unchanged, d.removed});
  resp.details = std::move(problems);
  return resp;
}

// Removed and changed connections lose their IKE SAs (Delete to the peer, like down) and
// their trap policies, every engine gets the new set; added and changed ones with start
// action start are initiated, those with trap get their trap policies. The load itself
// already happened: a trap that cannot be installed is a problem reported, not a refusal.
std::vector<std::string> Daemon::apply(const ConfigDiff& d, std::vector<DaemonConnection> next) {
  for (const auto* names : {&d.removed, &d.changed})
    for (const std::string& name : *names) {
      delete_sas_of(name);
      remove_traps(name);
    }
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    for (const auto* names : {&d.removed, &d.changed})
      for (const std::string& name : *names) w->engine().remove_connection(name);
    for (const DaemonConnection& c : next)
      if (contains(d.added, c.config.name) || contains(d.changed, c.config.name))
        w->engine().add_connection(c.config);
    w->wake();
  }
  connections_ = std::move(next);
  std::vector<std::string> start = d.added;
  start.insert(start.end(), d.changed.begin(), d.changed.end());
  std::vector<std::string> problems;
  install_traps(start, &problems);
  start_connections(start);
  return problems;
}

control::Response Daemon::list_conns() {
  std::vector<control::ConnInfo> out;
  for (const DaemonConnection& c : connections_) {
    const ike::ConnectionConfig& k = c.config;
    control::ConnInfo i;
    i.name = k.name;
    i.local = k.local.str();
    i.remote = k.remote.str();
    i.local_id = k.local_id.str();
    i.remote_id = k.remote_id.str();
    // The first child's settings stand for the connection's in this one-line summary.
    const ike::ChildConfig& first = k.children.front();
    i.child = children_names(k);
    i.start_action = start_action_name(first.start_action);
    for (auto& w : workers_) {
      std::lock_guard lock(w->mutex());
      i.trapped = i.trapped || w->engine().trapped(k.name);
    }
    i.child_rekey_seconds = secs(first.lifetime.rekey_time);
    i.child_life_seconds = secs(first.lifetime.life_time);
    i.ike_rekey_seconds = secs(k.ike_lifetime.rekey_time);
    i.ike_reauth_seconds = secs(k.ike_lifetime.reauth_time);
    i.dpd_delay_seconds = secs(k.dpd_delay);
    i.dpd_timeout_seconds = secs(k.dpd_timeout);
    i.dpd_action = peer_gone_name(first.dpd_action, "clear");
    i.close_action = peer_gone_name(first.close_action, "none");
    out.push_back(std::move(i));
  }
  control::Response resp;
  resp.data = control::to_json(out);
  return resp;
}

}  // namespace ipsec::daemon
