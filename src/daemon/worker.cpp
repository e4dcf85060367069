// SPDX-License-Identifier: Apache-2.0
// A worker's event loop: epoll over its UDP sockets, its timerfd and its wake-up eventfd.
#include "daemon/worker.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace ipsec::daemon {

namespace {

constexpr int kMaxEvents = 32;
constexpr int kMaxDatagramsPerWakeup = 64;  // bounded: the rest on the next wakeup

Error sys_error(const std::string& what) {
  int err = errno;
  return Error{what + ": " + std::strerror(err), err};
}

}  // namespace

Result<std::unique_ptr<Worker>> Worker::create(uint32_t index, uint32_t count,
                                               std::unique_ptr<kernel::Kernel> kernel,
                                               const ike::Clock& clock,
                                               std::shared_ptr<ike::PolicyRefs> policies,
                                               ike::EngineLimits limits) {
  limits.shard = ike::SpiShard{index, count};
  std::unique_ptr<Worker> w(
      new Worker(index, std::move(kernel), clock, limits, std::move(policies)));
  if (auto r = w->setup(); !r) return fail(r.error());
  return w;
}

Worker::Worker(uint32_t index, std::unique_ptr<kernel::Kernel> kernel, const ike::Clock& clock,
               ike::EngineLimits limits, std::shared_ptr<ike::PolicyRefs> policies)
    : index_(index),
      clock_(clock),
      kernel_(std::move(kernel)),
      engine_(std::make_unique<ike::Ike>(sender_, *kernel_, clock_, ike::RetransmitConfig{}, limits,
                                         std::move(policies))) {
  ocsp_fetcher_ =
      std::make_unique<crypto::ThreadedOcspFetcher>(*ocsp_transport_, [this] { wake(); });
  ocsp_.set_fetcher(ocsp_fetcher_.get());
  engine_->set_ocsp(ocsp_);
}

Worker::~Worker() {
  stop();
  ocsp_fetcher_.reset();  // its threads wake this worker: gone before the eventfd
}

Result<void> Worker::setup() {
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  timer_ = Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  wake_ = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll_.valid() || !timer_.valid() || !wake_.valid())
    return fail(sys_error("worker " + std::to_string(index_) + ": epoll, timerfd or eventfd"));
  for (int fd : {timer_.get(), wake_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return fail(sys_error("epoll_ctl"));
  }
  return ok();
}

// Under the mutex (or before start()).
Result<void> Worker::add_socket(UdpSocket s) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = s.fd.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s.fd.get(), &ev) != 0)
    return fail(sys_error("epoll_ctl"));
  sockets_.push_back(std::move(s));
  return ok();
}

void Worker::start() {
  thread_ = std::thread([this] { loop(); });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  wake();
  thread_.join();
}

void Worker::wake() {
  uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0 && errno != EAGAIN)
    log::warn(sys_error("worker eventfd write").message);
}

void Worker::loop() {
  epoll_event events[kMaxEvents];
  std::unique_lock lock(mutex_);
  while (!stop_) {
    arm_timer();
    lock.unlock();
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, -1);
    if (n < 0 && errno != EINTR) {
      log::error(sys_error("worker " + std::to_string(index_) + ": epoll_wait").message);
      return;
    }
    lock.lock();
    for (int i = 0; i < n; ++i) dispatch(events[i].data.fd);
  }
}

void Worker::dispatch(int fd) {
  if (fd == timer_.get() || fd == wake_.get()) {
    uint64_t count = 0;
    if (::read(fd, &count, sizeof count) < 0 && errno != EAGAIN)
      log::warn(sys_error("worker timerfd/eventfd read").message);
    if (fd == timer_.get()) engine_->on_timer(clock_.now());
    if (fd == wake_.get()) on_ocsp_answers();
    return;
  }
  for (const UdpSocket& s : sockets_)
    if (s.fd.get() == fd) return on_udp(s);
}

void Worker::on_ocsp_answers() {
  auto answers = ocsp_fetcher_->take();
  if (answers.empty()) return;
  for (auto& a : answers) ocsp_.complete(a.id, std::move(a.der));
  engine_->resume();
}

void Worker::on_udp(const UdpSocket& s) {
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

// Arms the timerfd at the engine's next deadline (absolute, CLOCK_MONOTONIC), or disarms it.
void Worker::arm_timer() {
  itimerspec its{};
  if (auto next = engine_->next_timer()) {
    int64_t ms = std::max<int64_t>(next->count(), 1);
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000;
  }
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr) != 0)
    log::error(sys_error("timerfd_settime").message);
}

size_t Worker::delete_all() {
  std::vector<uint64_t> spis;
  for (const ike::IkeSaSummary& sa : engine_->sas(false))
    if (sa.phase == ike::SaPhase::Established) spis.push_back(sa.local_spi);
  for (uint64_t spi : spis)
    if (auto r = engine_->delete_ike_sa(spi); !r) log::warn(r.error().message);
  return spis.size();
}

bool Worker::idle() const {
  for (const ike::IkeSaSummary& sa : engine_->sas(false))
    if (sa.phase == ike::SaPhase::Established || sa.phase == ike::SaPhase::Deleting) return false;
  return true;
}

}  // namespace ipsec::daemon
