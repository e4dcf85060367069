// ipsecd's event loop: epoll over UDP, timerfd, signalfd and the control socket.
#include "daemon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "daemon/status.h"

namespace ipsec::daemon {

namespace {

using ike::v2::Millis;

constexpr int kMaxEvents = 32;
constexpr int kMaxDatagramsPerWakeup = 64;  // bounded: the rest on the next wakeup

Error sys_error(const std::string& what) {
  int err = errno;
  return Error{what + ": " + std::strerror(err), err};
}

const char* start_action_name(policy::StartAction a) {
  switch (a) {
    case policy::StartAction::Start: return "start";
    case policy::StartAction::Trap: return "trap";
    case policy::StartAction::None: break;
  }
  return "none";
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::create(const DaemonOptions& options,
                                               std::unique_ptr<kernel::Kernel> kernel,
                                               std::vector<DaemonConnection> connections) {
  std::unique_ptr<Daemon> d(new Daemon(options, std::move(kernel), std::move(connections)));
  if (auto r = d->setup(); !r) return fail(r.error());
  return d;
}

Daemon::Daemon(DaemonOptions options, std::unique_ptr<kernel::Kernel> kernel,
               std::vector<DaemonConnection> connections)
    : options_(std::move(options)),
      kernel_(std::move(kernel)),
      connections_(std::move(connections)),
      engine_(std::make_unique<ike::v2::Engine>(sender_, *kernel_, clock_)) {}

Daemon::~Daemon() = default;

Result<void> Daemon::watch(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return fail(sys_error("epoll_ctl"));
  return ok();
}

Result<void> Daemon::setup() {
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  timer_ = Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return fail(sys_error("sigprocmask"));
  ::signal(SIGPIPE, SIG_IGN);
  signal_ = Fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!epoll_.valid() || !timer_.valid() || !signal_.valid())
    return fail(sys_error("epoll, timerfd or signalfd"));
  for (int fd : {timer_.get(), signal_.get()})
    if (auto r = watch(fd); !r) return r;
  for (const DaemonConnection& c : connections_) {
    engine_->add_connection(c.config);
    bool bound = std::any_of(sockets_.begin(), sockets_.end(),
                             [&](const UdpSocket& s) { return s.local == c.config.local; });
    if (bound) continue;
    auto s = open_udp(c.config.local);
    if (!s) return fail(s.error());
    if (auto r = watch(s->fd.get()); !r) return r;
    log::info("listening on " + c.config.local.str());
    sockets_.push_back(std::move(*s));
  }
  auto ctl = ControlServer::open(options_.control_path, epoll_.get(),
                                 [this](const control::Request& r) { return handle(r); });
  if (!ctl) return fail(ctl.error());
  control_ = std::move(*ctl);
  return ok();
}

void Daemon::start_connections() {
  for (const DaemonConnection& c : connections_) {
    if (c.start_action != policy::StartAction::Start) continue;
    auto spi = engine_->initiate(c.config.name);
    if (!spi) log::error("cannot start " + c.config.name + ": " + spi.error().message);
  }
}

int Daemon::run() {
  log::info("ipsecd started with " + std::to_string(connections_.size()) + " connection(s)");
  start_connections();
  epoll_event events[kMaxEvents];
  while (!(stopping_ && shutdown_done())) {
    track_ages();
    arm_timer();
    int timeout = -1;
    if (stopping_) {
      auto left = (stop_deadline_ - clock_.now()).count();
      if (left <= 0) break;
      timeout = static_cast<int>(std::min<int64_t>(left, 1000));
    }
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      log::error(sys_error("epoll_wait").message);
      return 1;
    }
    for (int i = 0; i < n; ++i) dispatch(events[i].data.fd);
  }
  size_t left = engine_->sas().size();
  if (left != 0) log::warn(std::to_string(left) + " IKE SA(s) left without the peer's answer");
  log::info("ipsecd stopped");
  return 0;
}

void Daemon::dispatch(int fd) {
  if (fd == timer_.get()) return on_timer();
  if (fd == signal_.get()) return on_signal();
  if (fd == control_->listen_fd()) return control_->on_accept();
  if (control_->is_client(fd)) return control_->on_client(fd);
  for (const UdpSocket& s : sockets_)
    if (s.fd.get() == fd) return on_udp(s);
}

void Daemon::on_udp(const UdpSocket& s) {
  for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
    auto d = receive(s);
    if (!d) {
      log::warn(d.error().message);
      return;
    }
    if (d->data.empty()) return;
    engine_->on_datagram(s.local, d->remote, d->data);
  }
}

void Daemon::on_timer() {
  uint64_t expirations = 0;
  if (::read(timer_.get(), &expirations, sizeof expirations) < 0 && errno != EAGAIN)
    log::warn(sys_error("timerfd read").message);
  engine_->on_timer(clock_.now());
}

void Daemon::on_signal() {
  signalfd_siginfo si{};
  while (::read(signal_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    log::info(std::string("received ") + ::strsignal(static_cast<int>(si.ssi_signo)));
    if (!stopping_) begin_shutdown();
  }
}

// Arms the timerfd at the engine's next deadline (absolute, CLOCK_MONOTONIC), or disarms it.
void Daemon::arm_timer() {
  itimerspec its{};
  if (auto next = engine_->next_timer()) {
    int64_t ms = std::max<int64_t>(next->count(), 1);
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000;
  }
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr) != 0)
    log::error(sys_error("timerfd_settime").message);
}

void Daemon::track_ages() {
  Millis now = clock_.now();
  std::map<uint64_t, Millis> seen;
  for (const ike::v2::IkeSa* sa : engine_->sas()) {
    auto it = first_seen_.find(sa->local_spi());
    seen[sa->local_spi()] = it != first_seen_.end() ? it->second : now;
  }
  first_seen_ = std::move(seen);
}

// Deletes every established IKE SA (their CHILD SAs leave the kernel at once) and
// waits, bounded, for the peers' answers.
void Daemon::begin_shutdown() {
  stopping_ = true;
  stop_deadline_ = clock_.now() + options_.shutdown_wait;
  std::vector<uint64_t> spis;
  for (const ike::v2::IkeSa* sa : engine_->sas())
    if (sa->state == ike::v2::IkeState::Established) spis.push_back(sa->local_spi());
  for (uint64_t spi : spis)
    if (auto r = engine_->delete_ike_sa(spi); !r) log::warn(r.error().message);
  log::info("shutting down: deleting " + std::to_string(spis.size()) + " IKE SA(s)");
}

// Done when no SA is established or waiting for the answer to our Delete.
bool Daemon::shutdown_done() const {
  for (const ike::v2::IkeSa* sa : engine_->sas())
    if (sa->state == ike::v2::IkeState::Established ||
        sa->state == ike::v2::IkeState::Deleting)
      return false;
  return true;
}

const DaemonConnection* Daemon::find_connection(const std::string& name) const {
  for (const DaemonConnection& c : connections_)
    if (c.config.name == name) return &c;
  return nullptr;
}

control::Response Daemon::handle(const control::Request& r) {
  control::Response resp;
  if (r.command == "status") {
    track_ages();
    resp.data = control::to_json(make_status(*engine_, first_seen_, clock_.now()));
  } else if (r.command == "list-conns") {
    resp = list_conns();
  } else if (r.command == "up") {
    resp = up(r.name);
  } else if (r.command == "down") {
    resp = down(r.name);
  } else {
    resp = control::Response::failure("unknown command \"" + r.command + "\"");
  }
  return resp;
}

control::Response Daemon::up(const std::string& name) {
  if (stopping_) return control::Response::failure("ipsecd is shutting down");
  if (!find_connection(name)) return control::Response::failure("no connection \"" + name + "\"");
  auto spi = engine_->initiate(name);
  if (!spi) return control::Response::failure(spi.error().message);
  control::Response resp;
  resp.data = {{"connection", name}, {"spi_i", control::spi_hex(*spi, 16)}};
  return resp;
}

control::Response Daemon::down(const std::string& name) {
  if (!find_connection(name)) return control::Response::failure("no connection \"" + name + "\"");
  std::vector<uint64_t> spis;
  for (const ike::v2::IkeSa* sa : engine_->sas())
    if (sa->config.name == name && sa->state == ike::v2::IkeState::Established)
      spis.push_back(sa->local_spi());
  if (spis.empty()) return control::Response::failure("no established IKE SA of \"" + name + "\"");
  nlohmann::json deleted = nlohmann::json::array();
  for (uint64_t spi : spis) {
    if (auto r = engine_->delete_ike_sa(spi); !r) return control::Response::failure(r.error().message);
    deleted.push_back(control::spi_hex(spi, 16));
  }
  control::Response resp;
  resp.data = {{"connection", name}, {"deleted", deleted}};
  return resp;
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
