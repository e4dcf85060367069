// SPDX-License-Identifier: Apache-2.0
// Policies against the host kernel: add, get, update, delete, dump, flush,
// SPD counts; IPv4 and IPv6, bundles, marks, if_id, block/allow, priorities.
#include <doctest/doctest.h>
#include <linux/xfrm.h>

#include <algorithm>

#include "host_util.h"

using namespace ipsec;
using namespace ipsec::kernel;
using ipsec::host_test::ip;
using ipsec::host_test::sel;

namespace {

PolicyParams tunnel_out() {
  PolicyParams p;
  p.sel = sel("10.0.0.0/24", "10.0.1.0/24");
  p.dir = Dir::Out;
  p.priority = 1000;
  p.tmpls = {Template{ip("192.0.2.1"), ip("192.0.2.2"), 0, Proto::Esp, Mode::Tunnel, 5, false}};
  return p;
}

// Field by field, so a failure says which one differs.
void check_same(const PolicyParams& got, const PolicyParams& want) {
  CHECK(got.sel.src == want.sel.src);
  CHECK(got.sel.dst == want.sel.dst);
  CHECK(got.sel.proto == want.sel.proto);
  CHECK(got.sel.sport == want.sel.sport);
  CHECK(got.sel.sport_mask == want.sel.sport_mask);
  CHECK(got.sel.dport == want.sel.dport);
  CHECK(got.sel.dport_mask == want.sel.dport_mask);
  CHECK(got.dir == want.dir);
  CHECK(got.action == want.action);
  CHECK(got.priority == want.priority);
  CHECK(got.mark == want.mark);
  CHECK(got.if_id == want.if_id);
  CHECK(got.flags == want.flags);
  CHECK(got.lifetime == want.lifetime);
  REQUIRE(got.tmpls.size() == want.tmpls.size());
  for (size_t i = 0; i < got.tmpls.size(); ++i) {
    CAPTURE(i);
    CHECK(got.tmpls[i].src == want.tmpls[i].src);
    CHECK(got.tmpls[i].dst == want.tmpls[i].dst);
    CHECK(got.tmpls[i].spi == want.tmpls[i].spi);
    CHECK(got.tmpls[i].proto == want.tmpls[i].proto);
    CHECK(got.tmpls[i].mode == want.tmpls[i].mode);
    CHECK(got.tmpls[i].reqid == want.tmpls[i].reqid);
    CHECK(got.tmpls[i].optional == want.tmpls[i].optional);
  }
  CHECK(got.same_config(want));
  CHECK_FALSE(got.socket);
}

}  // namespace

TEST_CASE("policy: add, get, dump, update, delete an IPv4 tunnel policy") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  PolicyParams p = tunnel_out();
  REQUIRE_MESSAGE(k->add_policy(p).has_value(), "add");

  auto got = k->get_policy(p.id());
  REQUIRE_MESSAGE(got.has_value(), host_test::why(got));
  check_same(*got, p);
  CHECK(got->index != 0);  // chosen by the kernel

  auto all = k->dump_policies();
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 1);
  check_same(all->front(), p);
  CHECK(all->front().index == got->index);

  p.priority = 10;
  p.tmpls[0].reqid = 6;
  auto up = k->update_policy(p);
  REQUIRE_MESSAGE(up.has_value(), host_test::why(up));
  got = k->get_policy(p.id());
  REQUIRE(got.has_value());
  check_same(*got, p);

  auto del = k->delete_policy(p.id());
  REQUIRE_MESSAGE(del.has_value(), host_test::why(del));
  auto gone = k->get_policy(p.id());
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().code == ENOENT);
  CHECK(gone.error().message.find("getting policy 10.0.0.0/24->10.0.1.0/24 out: ") == 0);
  auto again = k->delete_policy(p.id());
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().message.find("deleting policy 10.0.0.0/24->10.0.1.0/24 out: ") == 0);
  CHECK(k->dump_policies()->empty());
}

TEST_CASE("policy: IPv6, a transport AH+ESP bundle, ports, mark and if_id") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  PolicyParams p;
  p.sel = sel("2001:db8:1::/64", "2001:db8:2::5/128", 6);
  p.sel.dport = 443;
  p.sel.dport_mask = 0xffff;
  p.dir = Dir::In;
  p.priority = 200;
  p.tmpls = {Template{{}, {}, 0, Proto::Ah, Mode::Transport, 11, false},
             Template{{}, {}, 0, Proto::Esp, Mode::Transport, 12, true}};
  p.mark = Mark{0x42, 0xff};
  p.if_id = 17;
  p.lifetime.hard_add_seconds = 3600;
  p.lifetime.hard_bytes = 1 << 30;
  auto r = k->add_policy(p);
  REQUIRE_MESSAGE(r.has_value(), host_test::why(r));
  auto all = k->dump_policies();
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 1);
  check_same(all->front(), p);

  // The mark and if_id are part of the policy's identity.
  PolicyId other = p.id();
  other.mark.value = 0x43;
  CHECK_FALSE(k->get_policy(other).has_value());
  other = p.id();
  other.if_id = 18;
  CHECK_FALSE(k->get_policy(other).has_value());
  CHECK(k->get_policy(p.id()).has_value());
}

TEST_CASE("policy: block and allow actions, priorities, every direction") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  PolicyParams block;
  block.sel = sel("0.0.0.0/0", "203.0.113.0/24");
  block.dir = Dir::Out;
  block.action = Action::Block;
  block.priority = 5;
  PolicyParams allow = block;
  allow.action = Action::Allow;
  allow.sel = sel("203.0.113.0/24", "0.0.0.0/0");
  allow.dir = Dir::Fwd;
  allow.priority = 4000;
  PolicyParams any6;  // everything IPv6, in: keeps its family on read
  any6.sel = sel("::/0", "::/0");
  any6.dir = Dir::In;
  any6.action = Action::Block;
  for (const auto* p : {&block, &allow, &any6}) {
    auto r = k->add_policy(*p);
    REQUIRE_MESSAGE(r.has_value(), host_test::why(r));
  }
  auto all = k->dump_policies();
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 3);
  for (const auto* want : {&block, &allow, &any6}) {
    auto it = std::find_if(all->begin(), all->end(),
                           [&](const PolicyParams& g) { return g.id() == want->id(); });
    REQUIRE_MESSAGE(it != all->end(), describe(*want));
    check_same(*it, *want);
  }
  CHECK(any6.sel.family() == Family::V6);
}

TEST_CASE("policy: a duplicate add fails with EEXIST naming the policy") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  PolicyParams p = tunnel_out();
  REQUIRE(k->add_policy(p).has_value());
  auto r = k->add_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == EEXIST);
  CHECK(r.error().message == "adding policy 10.0.0.0/24->10.0.1.0/24 out: File exists (EEXIST)");
}

TEST_CASE("policy: SPD info counts per direction, flush removes every main policy") {
  host_test::fresh_netns();
  auto k = host_test::open_kernel();
  auto add = [&](const char* src, Dir dir) {
    PolicyParams p = tunnel_out();
    p.sel = sel(src, "10.99.0.0/16");
    p.dir = dir;
    auto r = k->add_policy(p);
    REQUIRE_MESSAGE(r.has_value(), host_test::why(r));
  };
  add("10.1.0.0/16", Dir::Out);
  add("10.2.0.0/16", Dir::Out);
  add("10.3.0.0/16", Dir::Out);
  add("10.1.0.0/16", Dir::In);
  add("10.2.0.0/16", Dir::In);
  add("10.1.0.0/16", Dir::Fwd);
  auto info = k->spd_info();
  REQUIRE_MESSAGE(info.has_value(), host_test::why(info));
  CHECK(info->out == 3);
  CHECK(info->in == 2);
  CHECK(info->fwd == 1);
  CHECK(info->in_socket == 0);
  CHECK(info->hash_max > 0);
  REQUIRE(k->flush_policies().has_value());
  info = k->spd_info();
  REQUIRE(info.has_value());
  CHECK(info->out + info->in + info->fwd == 0);
  CHECK(k->dump_policies()->empty());
}
