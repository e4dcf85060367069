// SPDX-License-Identifier: Apache-2.0
// Links, addresses, routes and source selection over libnl-route-3.
#include <doctest/doctest.h>

#include <algorithm>

#include "host_util.h"
#include "netlink/rtnl.h"

using namespace ipsec;
using ipsec::host_test::ip;
using ipsec::host_test::pfx;

namespace {

std::unique_ptr<netlink::Rtnl> open_rtnl() {
  auto r = netlink::Rtnl::open();
  REQUIRE_MESSAGE(r.has_value(), host_test::why(r));
  return std::move(*r);
}

// A link to put addresses on: a veth pair when the kernel has veth, else lo.
netlink::Link test_link(netlink::Rtnl& rtnl) {
  auto made = rtnl.add_veth("nl0", "nl1");
  if (!made) {
    host_test::skip("rtnl on veth", "no veth (" + made.error().message + "); using lo");
    return *rtnl.link("lo");
  }
  auto peer = rtnl.link("nl1");
  REQUIRE(peer.has_value());
  REQUIRE(rtnl.set_up(peer->index, true).has_value());
  auto l = rtnl.link("nl0");
  REQUIRE_MESSAGE(l.has_value(), host_test::why(l));
  auto up = rtnl.set_up(l->index, true);
  REQUIRE_MESSAGE(up.has_value(), host_test::why(up));
  return *rtnl.link("nl0");
}

}  // namespace

TEST_CASE("rtnl: links list lo, up in a fresh namespace; unknown links are errors") {
  host_test::fresh_netns();
  auto rtnl = open_rtnl();
  auto links = rtnl->links();
  REQUIRE_MESSAGE(links.has_value(), host_test::why(links));
  auto lo = std::find_if(links->begin(), links->end(),
                         [](const netlink::Link& l) { return l.name == "lo"; });
  REQUIRE(lo != links->end());
  CHECK(lo->up);
  CHECK(lo->index == 1);
  auto missing = rtnl->link("nope0");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("looking up link nope0: ") == 0);
}

TEST_CASE("rtnl: addresses, routes via a gateway, source selection") {
  host_test::fresh_netns();
  auto rtnl = open_rtnl();
  netlink::Link link = test_link(*rtnl);
  CHECK(link.up);
  auto a = rtnl->add_address(link.index, ip("198.51.100.1"), 24);
  REQUIRE_MESSAGE(a.has_value(), host_test::why(a));
  auto dup = rtnl->add_address(link.index, ip("198.51.100.1"), 24);
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().code == EEXIST);

  netlink::Route route{pfx("203.0.113.0/24"), ip("198.51.100.254"), link.index, 254};
  auto r = rtnl->add_route(route);
  REQUIRE_MESSAGE(r.has_value(), host_test::why(r));
  auto src = rtnl->source_for(ip("203.0.113.9"));
  REQUIRE_MESSAGE(src.has_value(), host_test::why(src));
  CHECK(*src == ip("198.51.100.1"));
  if (host_test::have_iproute2()) {
    auto shown = host_test::run("ip route show 203.0.113.0/24");
    CHECK_MESSAGE(shown.output.find("via 198.51.100.254") != std::string::npos, shown.output);
  }

  REQUIRE(rtnl->delete_route(route).has_value());
  auto unreachable = rtnl->source_for(ip("203.0.113.9"));
  CHECK_FALSE(unreachable.has_value());
  REQUIRE(rtnl->delete_address(link.index, ip("198.51.100.1"), 24).has_value());
  if (link.name == "nl0") {
    REQUIRE(rtnl->delete_link(link.index).has_value());
    CHECK_FALSE(rtnl->link("nl0").has_value());
    CHECK_FALSE(rtnl->link("nl1").has_value());  // the peer goes with it
  }
}

TEST_CASE("rtnl: IPv6 address and source selection") {
  host_test::fresh_netns();
  if (!host_test::have_iproute2()) return host_test::skip("rtnl IPv6", "no `ip` for nodad");
  auto rtnl = open_rtnl();
  netlink::Link link = test_link(*rtnl);
  // nodad: the address is usable at once rather than after duplicate detection.
  auto a = host_test::run("ip -6 addr add 2001:db8:5::1/64 dev " + link.name + " nodad");
  REQUIRE_MESSAGE(a.status == 0, a.output);
  auto src = rtnl->source_for(ip("2001:db8:5::77"));
  REQUIRE_MESSAGE(src.has_value(), host_test::why(src));
  CHECK(*src == ip("2001:db8:5::1"));
  auto b = rtnl->add_address(link.index, ip("2001:db8:6::1"), 64);
  REQUIRE_MESSAGE(b.has_value(), host_test::why(b));
  CHECK(rtnl->delete_address(link.index, ip("2001:db8:6::1"), 64).has_value());
}
