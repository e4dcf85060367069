// SPDX-License-Identifier: Apache-2.0
// daemon/sd_notify: what a Type=notify service manager receives, read from a
// datagram socket standing in for systemd's NOTIFY_SOCKET; nothing without it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "daemon/sd_notify.h"

namespace notify = ipsec::daemon::notify;

namespace {

// A bound AF_UNIX datagram socket in a fresh folder, exported as NOTIFY_SOCKET.
class Listener {
 public:
  Listener() {
    char tmpl[] = "/tmp/sd-notify-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path_.c_str(), sizeof sun.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0);
    timeval tv{2, 0};  // bounded: a missing message fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~Listener() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  std::string receive(int flags = 0) const {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, flags);
    return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string dir_, path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("message: state lines, then STATUS= with newlines flattened") {
  CHECK(notify::message("READY=1", "1 connection") == "READY=1\nSTATUS=1 connection");
  CHECK(notify::message("STOPPING=1", "") == "STOPPING=1");
  CHECK(notify::message("", "a\nb\rc") == "STATUS=a b c");
}

TEST_CASE("without NOTIFY_SOCKET every call is a no-op") {
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(notify::enabled());
  notify::ready("ignored");
  notify::reloading("ignored");
  notify::stopping("ignored");
  notify::status("ignored");
}

TEST_CASE("ready, reloading, status and stopping reach the notify socket in order") {
  Listener l;
  REQUIRE(notify::enabled());
  notify::ready("listening on 192.0.2.1[500], 1 connection");
  CHECK(l.receive() == "READY=1\nSTATUS=listening on 192.0.2.1[500], 1 connection");

  notify::reloading("loading 2 files");
  std::string r = l.receive();
  CHECK(r.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  CHECK(r.find("\nSTATUS=loading 2 files") != std::string::npos);
  notify::ready("reloaded");
  CHECK(l.receive() == "READY=1\nSTATUS=reloaded");

  notify::status("2 IKE SAs");
  CHECK(l.receive() == "STATUS=2 IKE SAs");
  notify::stopping("deleting 2 IKE SAs");
  CHECK(l.receive() == "STOPPING=1\nSTATUS=deleting 2 IKE SAs");
  CHECK(l.receive(MSG_DONTWAIT).empty());
}
