// SPDX-License-Identifier: Apache-2.0
// Helpers of the host-kernel tests: fresh network namespaces, parsing
// shorthands, running iproute2, waiting for kernel events.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/ip.h"
#include "kernel/events.h"
#include "kernel/kernel.h"
#include "netlink/xfrm_kernel.h"

namespace ipsec::host_test {

// Moves the test process into a new, empty network namespace with lo up.
// Every TEST_CASE calls it first, so no state leaks between cases.
void fresh_netns();

// The error text of a failed result, "" otherwise: for *_MESSAGE checks,
// whose message doctest may evaluate even when the check passes.
template <class T>
std::string why(const Result<T>& r) {
  return r.has_value() ? std::string() : r.error().message;
}

IpAddress ip(const char* text);
Prefix pfx(const char* text);
kernel::Selector sel(const char* src, const char* dst, uint8_t proto = 0);

std::unique_ptr<netlink::XfrmKernel> open_kernel();

// Runs a shell command (in this process's namespace); exit status and output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run(const std::string& command);
bool have_iproute2();

// Reads events until `want` of them arrived or `timeout_ms` passed.
std::vector<kernel::Event> wait_events(kernel::EventSource& src, size_t want,
                                       int timeout_ms = 2000);

// A check that cannot run on this machine: reported with MESSAGE and listed
// again after the run, never counted as passed silently.
void skip(const std::string& test, const std::string& reason);
void print_skips();

}  // namespace ipsec::host_test
