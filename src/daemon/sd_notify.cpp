// SPDX-License-Identifier: Apache-2.0
// sd_notify(3) wrappers: libsystemd does the socket work (abstract or path sockets,
// credentials); we only build the state lines and log a failed send.
#include "daemon/sd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"

namespace ipsec::daemon::notify {

namespace {

uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

void send(std::string_view state, std::string_view status) {
  if (!enabled()) return;
  std::string m = message(state, status);
  // unset_environment = 0: later notifications (reload, stop) use the same socket.
  int rc = ::sd_notify(0, m.c_str());
  if (rc < 0) log::warn("sd_notify: " + std::string(std::strerror(-rc)));
}

}  // namespace

bool enabled() {
  const char* s = std::getenv("NOTIFY_SOCKET");
  return s != nullptr && *s != '\0';
}

std::string message(std::string_view state, std::string_view status) {
  std::string m(state);
  if (!status.empty()) {
    if (!m.empty()) m += '\n';
    m += "STATUS=";
    for (char c : status) m += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return m;
}

void ready(std::string_view status) { send("READY=1", status); }

void reloading(std::string_view status) {
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()), status);
}

void stopping(std::string_view status) { send("STOPPING=1", status); }

void status(std::string_view status) { send("", status); }

}  // namespace ipsec::daemon::notify
