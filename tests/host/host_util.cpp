// SPDX-License-Identifier: Apache-2.0
// Helpers of the host-kernel tests.
#include "host_util.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "netlink/rtnl.h"

namespace ipsec::host_test {

namespace {
std::vector<std::string>& skips() {
  static std::vector<std::string> list;
  return list;
}
}  // namespace

void fresh_netns() {
  REQUIRE_MESSAGE(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): ", std::strerror(errno));
  auto rtnl = netlink::Rtnl::open();
  REQUIRE_MESSAGE(rtnl.has_value(), why(rtnl));
  auto lo = (*rtnl)->link("lo");
  REQUIRE_MESSAGE(lo.has_value(), why(lo));
  auto up = (*rtnl)->set_up(lo->index, true);
  REQUIRE_MESSAGE(up.has_value(), why(up));
}

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  REQUIRE_MESSAGE(a.has_value(), text);
  return *a;
}

Prefix pfx(const char* text) {
  auto p = Prefix::parse(text);
  REQUIRE_MESSAGE(p.has_value(), text);
  return *p;
}

kernel::Selector sel(const char* src, const char* dst, uint8_t proto) {
  kernel::Selector s;
  s.src = pfx(src);
  s.dst = pfx(dst);
  s.proto = proto;
  return s;
}

std::unique_ptr<netlink::XfrmKernel> open_kernel() {
  auto k = netlink::XfrmKernel::open();
  REQUIRE_MESSAGE(k.has_value(), why(k));
  return std::move(*k);
}

CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool have_iproute2() { return run("ip -V").status == 0; }

std::vector<kernel::Event> wait_events(kernel::EventSource& src, size_t want, int timeout_ms) {
  std::vector<kernel::Event> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < want) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{src.fd(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    auto got = src.read();
    REQUIRE_MESSAGE(got.has_value(), why(got));
    for (auto& e : *got) out.push_back(std::move(e));
  }
  return out;
}

void skip(const std::string& test, const std::string& reason) {
  MESSAGE("SKIPPED ", test, ": ", reason);
  skips().push_back(test + ": " + reason);
}

void print_skips() {
  if (skips().empty()) return;
  std::printf("SKIPPED %zu check(s) that cannot run on this machine:\n", skips().size());
  for (const auto& s : skips()) std::printf("  %s\n", s.c_str());
}

}  // namespace ipsec::host_test
