// SPDX-License-Identifier: Apache-2.0
// One worker thread of ipsecd: its own epoll, timerfd, wake-up eventfd, UDP sockets
// (one per local address, in the SO_REUSEPORT group of that address), IKEv2 engine and
// kernel handle. The engine stays single-threaded: the worker holds its mutex while it
// handles events and timers, and the main thread holds it to reach the engine.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "crypto/ocsp.h"
#include "daemon/fd.h"
#include "daemon/udp.h"
#include "ike/ike.h"
#include "kernel/kernel.h"

namespace ipsec::daemon {

class Worker {
 public:
  // index of count: the engine generates SPIs of shard {index, count}. `policies`: the
  // XFRM policies in use, shared by every worker's engine (they program one kernel).
  static Result<std::unique_ptr<Worker>> create(uint32_t index, uint32_t count,
                                                std::unique_ptr<kernel::Kernel> kernel,
                                                const ike::Clock& clock,
                                                std::shared_ptr<ike::PolicyRefs> policies,
                                                ike::EngineLimits limits = {});
  ~Worker();  // stops the thread
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  void stop();  // waits for the thread

  uint32_t index() const { return index_; }
  // Held by the worker while it runs the engine; take it to use what follows.
  std::mutex& mutex() { return mutex_; }
  ike::Ike& engine() { return *engine_; }
  kernel::Kernel& kernel() { return *kernel_; }
  Result<void> add_socket(UdpSocket s);
  // After changing the engine: the worker re-arms its timer.
  void wake();

  // Deletes every established IKE SA (graceful shutdown, under the mutex).
  size_t delete_all();
  // No SA established or waiting for the answer to our Delete (under the mutex).
  bool idle() const;

 private:
  Worker(uint32_t index, std::unique_ptr<kernel::Kernel> kernel, const ike::Clock& clock,
         ike::EngineLimits limits, std::shared_ptr<ike::PolicyRefs> policies);
  Result<void> setup();
  void loop();
  void dispatch(int fd);
  void on_udp(const UdpSocket& s);
  void arm_timer();

  uint32_t index_;
  const ike::Clock& clock_;
  std::unique_ptr<kernel::Kernel> kernel_;
  std::vector<UdpSocket> sockets_;
  UdpSender sender_{sockets_};
  void on_ocsp_answers();
  // OCSP over HTTP for the peers' certificates, with this worker's own cache. The exchanges
  // run on the fetcher's threads, which wake the worker when an answer is in; meanwhile
  // the IKE_AUTH messages that wait for them are kept by the engine, and the worker goes on.
  std::unique_ptr<crypto::OcspTransport> ocsp_transport_ = crypto::http_ocsp_transport();
  crypto::OcspClient ocsp_{*ocsp_transport_};
  std::unique_ptr<crypto::ThreadedOcspFetcher> ocsp_fetcher_;
  std::unique_ptr<ike::Ike> engine_;
  Fd epoll_, timer_, wake_;
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ipsec::daemon
