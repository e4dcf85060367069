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

#include "common/log.h"
#include "daemon/sd_notify.h"
#include "daemon/shard.h"
#include "daemon/status.h"

namespace ipsec::daemon {

namespace {

using ike::v2::Millis;

constexpr int kMaxEvents = 32;
constexpr int64_t kShutdownPollMs = 50;

Error sys_error(const std::string& what) {
  int err = errno;
  return Error{what + ": " + std::strerror(err), err};
}

const char* start_action_name(policy::StartAction a) {
  switch (a) {
    case policy::StartAction::Start:
      return "start";
    case policy::StartAction::Trap:
      return "trap";
    case policy::StartAction::None:
      break;
  }
  return "none";
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
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = signal_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signal_.get(), &ev) != 0)
    return fail(sys_error("epoll_ctl"));
  for (uint32_t i = 0; i < options_.workers; ++i) {
    auto k = kernels();
    if (!k) return fail("kernel: " + k.error().message);
    auto w = Worker::create(i, options_.workers, std::move(*k), clock_);
    if (!w) return fail(w.error());
    (*w)->engine().set_nat(ike::v2::NatConfig{options_.natt_port, options_.natt_keepalive});
    for (const DaemonConnection& c : connections_) (*w)->engine().add_connection(c.config);
    workers_.push_back(std::move(*w));
  }
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
  std::vector<ike::v2::Endpoint> fresh;
  auto add = [&](const ike::v2::Endpoint& local) {
    if (std::find(bound_.begin(), bound_.end(), local) == bound_.end() &&
        std::find(fresh.begin(), fresh.end(), local) == fresh.end())
      fresh.push_back(local);
  };
  for (const DaemonConnection& c : conns) {
    add(c.config.local);
    if (options_.natt_port != 0) add(ike::v2::Endpoint{c.config.local.addr, options_.natt_port});
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

// `up` and start_action go to a fixed worker per connection.
void Daemon::start_connections(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const DaemonConnection* c = find_connection(name);
    if (c == nullptr || c->start_action != policy::StartAction::Start) continue;
    Worker& w = *workers_[worker_for_connection(name, options_.workers)];
    std::lock_guard lock(w.mutex());
    if (auto spi = w.engine().initiate(name); !spi)
      log::error("cannot start " + name + ": " + spi.error().message);
    w.wake();
  }
}

int Daemon::run() {
  log::info("ipsecd started with " + std::to_string(connections_.size()) + " connection(s), " +
            std::to_string(workers_.size()) + " worker(s)");
  for (auto& w : workers_) w->start();
  std::vector<std::string> names;
  for (const auto& c : connections_) names.push_back(c.config.name);
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
      else if (fd == control_->listen_fd())
        control_->on_accept();
      else if (control_->is_client(fd))
        control_->on_client(fd);
    }
  }
  size_t left = 0;
  for (auto& w : workers_) {
    w->stop();
    left += w->engine().sas().size();
  }
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
  if (r.command == "down") return down(r.name);
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
    merge(all, make_status(w->engine(), w->kernel(), w->index(), clock_.now(), wall));
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

std::vector<uint64_t> Daemon::delete_sas_of(const std::string& name) {
  std::vector<uint64_t> deleted;
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    std::vector<uint64_t> spis;
    for (const ike::v2::IkeSa* sa : w->engine().sas())
      if (sa->config.name == name && sa->state == ike::v2::IkeState::Established)
        spis.push_back(sa->local_spi());
    for (uint64_t spi : spis) {
      if (auto r = w->engine().delete_ike_sa(spi); !r) {
        log::warn(r.error().message);
        continue;
      }
      deleted.push_back(spi);
    }
    w->wake();
  }
  return deleted;
}

control::Response Daemon::down(const std::string& name) {
  if (!find_connection(name)) return control::Response::failure("no connection \"" + name + "\"");
  std::vector<uint64_t> spis = delete_sas_of(name);
  if (spis.empty()) return control::Response::failure("no established IKE SA of \"" + name + "\"");
  nlohmann::json deleted = nlohmann::json::array();
  for (uint64_t spi : spis) deleted.push_back(control::spi_hex(spi, 16));
  control::Response resp;
  resp.data = {{"connection", name}, {"deleted", deleted}};
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
    if (old->config.child.reqid == now->config.child.reqid) {
      ++it;
      continue;
    }
    d.changed.insert(std::upper_bound(d.changed.begin(), d.changed.end(), *it), *it);
    it = d.unchanged.erase(it);
  }
  apply(d, std::move(next.connections));
  log::info("load: added " + joined(d.added) + "; changed " + joined(d.changed) + "; removed " +
            joined(d.removed) + "; unchanged " + joined(d.unchanged));
  control::Response resp;
  resp.data = control::to_json(control::LoadSummary{d.added, d.changed, d.unchanged, d.removed});
  return resp;
}

// Removed and changed connections lose their IKE SAs (Delete to the peer, like down),
// every engine gets the new set, and added and changed ones with start_action start
// are initiated.
void Daemon::apply(const ConfigDiff& d, std::vector<DaemonConnection> next) {
  for (const auto* names : {&d.removed, &d.changed})
    for (const std::string& name : *names) delete_sas_of(name);
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex());
    for (const auto* names : {&d.removed, &d.changed})
      for (const std::string& name : *names) w->engine().remove_connection(name);
    for (const DaemonConnection& c : next)
      if (std::binary_search(d.added.begin(), d.added.end(), c.config.name) ||
          std::binary_search(d.changed.begin(), d.changed.end(), c.config.name))
        w->engine().add_connection(c.config);
    w->wake();
  }
  connections_ = std::move(next);
  std::vector<std::string> start = d.added;
  start.insert(start.end(), d.changed.begin(), d.changed.end());
  start_connections(start);
}

control::Response Daemon::list_conns() const {
  std::vector<control::ConnInfo> out;
  for (const DaemonConnection& c : connections_)
    out.push_back(control::ConnInfo{c.config.name, c.config.local.str(), c.config.remote.str(),
                                    c.config.local_id.str(), c.config.remote_id.str(),
                                    c.config.child.name, start_action_name(c.start_action)});
  control::Response resp;
  resp.data = control::to_json(out);
  return resp;
}

}  // namespace ipsec::daemon
