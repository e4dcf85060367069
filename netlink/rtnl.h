// SPDX-License-Identifier: Apache-2.0
// Links, addresses and routes over rtnetlink (libnl-route-3): the little the
// control plane needs around XFRM (source address selection, test setup).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"
#include "common/result.h"

struct nl_sock;

namespace ipsec::netlink {

struct Link {
  std::string name;
  int index = 0;
  bool up = false;
};

struct Route {
  Prefix dst;            // "0.0.0.0/0" for a default route
  IpAddress gateway;     // unspecified: directly connected (scope link)
  int ifindex = 0;       // 0: let the kernel pick from the gateway
  uint32_t table = 254;  // RT_TABLE_MAIN
};

// Errors name the object ("adding address 192.0.2.1/24 on lo") and carry an
// errno-style code.
class Rtnl {
 public:
  // A NETLINK_ROUTE socket in the caller's network namespace.
  static Result<std::unique_ptr<Rtnl>> open();
  ~Rtnl();
  Rtnl(const Rtnl&) = delete;
  Rtnl& operator=(const Rtnl&) = delete;

  Result<std::vector<Link>> links();
  Result<Link> link(std::string_view name);
  Result<void> set_up(int ifindex, bool up);
  // A veth pair (both ends down), and removal of any link.
  Result<void> add_veth(const std::string& name, const std::string& peer);
  Result<void> delete_link(int ifindex);

  // addr/prefix_len as on an interface: 192.0.2.1/24 (host bits allowed).
  Result<void> add_address(int ifindex, const IpAddress& addr, uint8_t prefix_len);
  Result<void> delete_address(int ifindex, const IpAddress& addr, uint8_t prefix_len);

  Result<void> add_route(const Route& route);
  Result<void> delete_route(const Route& route);

  // The source address the kernel would use towards dst (RTM_GETROUTE).
  Result<IpAddress> source_for(const IpAddress& dst);

 private:
  explicit Rtnl(nl_sock* sock) : sock_(sock) {}
  nl_sock* sock_;
};

}  // namespace ipsec::netlink
