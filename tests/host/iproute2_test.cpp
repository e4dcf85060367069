// SPDX-License-Identifier: Apache-2.0
// Cross-checks with iproute2 in the same namespace: what we add, `ip xfrm`
// shows; what `ip xfrm` adds, our dump reads back as the same model.
#include <doctest/doctest.h>

#include <algorithm>

#include "host_util.h"

using namespace ipsec;
using namespace ipsec::kernel;
using ipsec::host_test::ip;
using ipsec::host_test::sel;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("iproute2: `ip xfrm policy` shows a policy we added") {
  host_test::fresh_netns();
  if (!host_test::have_iproute2()) return host_test::skip("iproute2 cross-check", "no `ip`");
  auto k = host_test::open_kernel();
  PolicyParams p;
  p.sel = sel("10.1.0.0/16", "10.2.0.0/16", 6);
  p.sel.dport = 22;
  p.sel.dport_mask = 0xffff;
  p.dir = Dir::Out;
  p.priority = 1000;
  p.mark = Mark{0x10, 0xff};
  p.tmpls = {Template{ip("192.0.2.1"), ip("192.0.2.2"), 0, Proto::Esp, Mode::Tunnel, 5, false}};
  REQUIRE(k->add_policy(p).has_value());
  auto out = host_test::run("ip xfrm policy");
  INFO(out.output);
  REQUIRE(out.status == 0);
  CHECK(contains(out.output, "src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp dport 22"));
  CHECK(contains(out.output, "dir out priority 1000"));
  CHECK(contains(out.output, "mark 0x10/0xff"));
  CHECK(contains(out.output, "tmpl src 192.0.2.1 dst 192.0.2.2"));
  CHECK(contains(out.output, "proto esp reqid 5 mode tunnel"));
}

TEST_CASE("iproute2: policies added by `ip xfrm policy add` dump as the same model") {
  host_test::fresh_netns();
  if (!host_test::have_iproute2()) return host_test::skip("iproute2 cross-check", "no `ip`");
  auto r1 = host_test::run(
      "ip xfrm policy add src 10.3.0.0/24 dst 10.4.0.0/24 proto udp sport 500 dir in priority 50"
      " mark 0x10 mask 0xff if_id 3 tmpl src 198.51.100.1 dst 198.51.100.2 proto esp reqid 9"
      " mode tunnel level use");
  REQUIRE_MESSAGE(r1.status == 0, r1.output);
  auto r2 = host_test::run(
      "ip xfrm policy add src 2001:db8::/64 dst 2001:db8:1::/64 dir out action block");
  REQUIRE_MESSAGE(r2.status == 0, r2.output);
  auto r3 = host_test::run(
      "ip xfrm policy add src 10.5.0.0/24 dst 10.6.0.0/24 dir fwd"
      " tmpl proto ah reqid 1 mode transport tmpl proto esp reqid 2 mode transport");
  REQUIRE_MESSAGE(r3.status == 0, r3.output);

  PolicyParams want1;
  want1.sel = sel("10.3.0.0/24", "10.4.0.0/24", 17);
  want1.sel.sport = 500;
  want1.sel.sport_mask = 0xffff;
  want1.dir = Dir::In;
  want1.priority = 50;
  want1.mark = Mark{0x10, 0xff};
  want1.if_id = 3;
  want1.tmpls = {
      Template{ip("198.51.100.1"), ip("198.51.100.2"), 0, Proto::Esp, Mode::Tunnel, 9, true}};
  PolicyParams want2;
  want2.sel = sel("2001:db8::/64", "2001:db8:1::/64");
  want2.dir = Dir::Out;
  want2.action = Action::Block;
  PolicyParams want3;
  want3.sel = sel("10.5.0.0/24", "10.6.0.0/24");
  want3.dir = Dir::Fwd;
  want3.tmpls = {Template{{}, {}, 0, Proto::Ah, Mode::Transport, 1, false},
                 Template{{}, {}, 0, Proto::Esp, Mode::Transport, 2, false}};

  auto k = host_test::open_kernel();
  auto all = k->dump_policies();
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 3);
  for (const auto* want : {&want1, &want2, &want3}) {
    auto it = std::find_if(all->begin(), all->end(),
                           [&](const PolicyParams& g) { return g.id() == want->id(); });
    REQUIRE_MESSAGE(it != all->end(), describe(*want));
    CHECK_MESSAGE(it->same_config(*want), describe(*want));
    CHECK(it->tmpls == want->tmpls);
  }
}

TEST_CASE("iproute2: a state from `ip xfrm state allocspi` dumps as larval") {
  host_test::fresh_netns();
  if (!host_test::have_iproute2()) return host_test::skip("iproute2 cross-check", "no `ip`");
  auto r = host_test::run(
      "ip xfrm state allocspi src 192.0.2.1 dst 192.0.2.3 proto esp mode tunnel reqid 5"
      " min 0x1000 max 0x2000");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  auto k = host_test::open_kernel();
  auto sas = k->dump_sas();
  REQUIRE(sas.has_value());
  REQUIRE(sas->size() == 1);
  const auto& sa = sas->front();
  CHECK(sa.larval);
  CHECK(sa.mode == Mode::Tunnel);
  CHECK(sa.reqid == 5);
  CHECK(sa.spi >= 0x1000);
  CHECK(sa.spi <= 0x2000);
  CHECK(sa.src == ip("192.0.2.1"));
  CHECK(sa.dst == ip("192.0.2.3"));
}
