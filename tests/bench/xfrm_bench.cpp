// SPDX-License-Identifier: Apache-2.0
// Benchmark driver: installs or dumps N tunnel-mode policies through our
// netlink batch mode, in the current network namespace. Used by policies.sh.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "netlink/xfrm_kernel.h"

namespace k = ipsec::kernel;

namespace {

// Same policies as policies.sh writes for ip -batch: src 10.a.b.c/32.
std::vector<k::Op> make_ops(uint32_t n) {
  std::vector<k::Op> ops;
  ops.reserve(n);
  k::PolicyParams p;
  p.sel.dst = *ipsec::Prefix::parse("10.200.0.0/16");
  p.dir = k::Dir::Out;
  k::Template t;
  t.src = *ipsec::IpAddress::parse("192.0.2.1");
  t.dst = *ipsec::IpAddress::parse("192.0.2.2");
  t.mode = k::Mode::Tunnel;
  t.reqid = 1;
  p.tmpls.push_back(t);
  for (uint32_t i = 0; i < n; ++i) {
    p.sel.src = ipsec::Prefix::host(ipsec::IpAddress::v4(0x0a000000u | (i & 0xffffff)));
    ops.push_back(k::AddPolicy{p});
  }
  return ops;
}

int install(k::Kernel& kern, uint32_t n) {
  std::vector<k::Op> ops = make_ops(n);
  auto results = kern.apply_batch(ops);
  size_t failed = 0;
  for (const auto& r : results)
    if (!r && failed++ < 5) std::fprintf(stderr, "error: %s\n", r.error().message.c_str());
  return failed == 0 ? 0 : 1;
}

int dump(k::Kernel& kern, uint32_t n) {
  auto policies = kern.dump_policies();
  if (!policies) {
    std::fprintf(stderr, "error: %s\n", policies.error().message.c_str());
    return 1;
  }
  if (policies->size() != n) {
    std::fprintf(stderr, "error: dumped %zu policies, expected %u\n", policies->size(), n);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "install") != 0 && std::strcmp(argv[1], "dump") != 0)) {
    std::fprintf(stderr, "usage: xfrm_bench install|dump N\n");
    return 2;
  }
  uint32_t n = static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10));
  auto kern = ipsec::netlink::XfrmKernel::open();
  if (!kern) {
    std::fprintf(stderr, "error: %s\n", kern.error().message.c_str());
    return 1;
  }
  return std::strcmp(argv[1], "install") == 0 ? install(**kern, n) : dump(**kern, n);
}
