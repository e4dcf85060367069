// SPDX-License-Identifier: Apache-2.0
// Links, addresses and routes over rtnetlink with libnl-route-3.
#include "netlink/rtnl.h"

#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netlink/xfrm_socket.h"

namespace ipsec::netlink {

namespace {

// libnl reports its own NLE_* codes; map the common ones back to errno.
int errno_of(int nle) {
  switch (nle < 0 ? -nle : nle) {
    case NLE_EXIST:
      return EEXIST;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_NODEV:
      return ENODEV;
    case NLE_PERM:
      return EPERM;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_INVAL:
      return EINVAL;
    case NLE_RANGE:
      return ERANGE;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_BUSY:
      return EBUSY;
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_AGAIN:
      return EAGAIN;
    default:
      return EIO;
  }
}

Unexpected<Error> nl_failure(const std::string& what, int nle) {
  int code = errno_of(nle);
  return fail(what + ": " + cause_text(code, nl_geterror(nle)), code);
}

// Owners for libnl objects.
struct AddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct RtAddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct CachePut {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using NlAddr = std::unique_ptr<nl_addr, AddrPut>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using RtAddr = std::unique_ptr<rtnl_addr, RtAddrPut>;
using RoutePtr = std::unique_ptr<rtnl_route, RoutePut>;
using CachePtr = std::unique_ptr<nl_cache, CachePut>;

NlAddr to_nl(const IpAddress& a, uint8_t prefix_len) {
  NlAddr out(nl_addr_build(a.af(), a.bytes.data(), a.size()));
  if (out) nl_addr_set_prefixlen(out.get(), prefix_len);
  return out;
}

Result<IpAddress> from_nl(const nl_addr* a) {
  IpAddress out;
  int af = nl_addr_get_family(a);
  unsigned len = nl_addr_get_len(a);
  if (!((af == AF_INET && len == 4) || (af == AF_INET6 && len == 16)))
    return fail("unexpected address family " + std::to_string(af), EAFNOSUPPORT);
  out.family = af == AF_INET ? Family::V4 : Family::V6;
  std::memcpy(out.bytes.data(), nl_addr_get_binary_addr(a), len);
  return out;
}

Link to_link(rtnl_link* l) {
  const char* name = rtnl_link_get_name(l);
  return Link{name != nullptr ? name : "", rtnl_link_get_ifindex(l),
              (rtnl_link_get_flags(l) & IFF_UP) != 0};
}

std::string route_text(const Route& r) {
  std::string out = "route " + r.dst.str();
  if (!r.gateway.is_unspec()) out += " via " + r.gateway.str();
  if (r.ifindex != 0) out += " dev #" + std::to_string(r.ifindex);
  if (r.table != 254) out += " table " + std::to_string(r.table);
  return out;
}

Result<RoutePtr> build_route(const Route& r) {
  RoutePtr route(rtnl_route_alloc());
  NlAddr dst = to_nl(r.dst.addr, r.dst.len);
  if (!route || !dst) return fail("out of memory", ENOMEM);
  rtnl_route_set_family(route.get(), static_cast<uint8_t>(r.dst.addr.af()));
  rtnl_route_set_table(route.get(), r.table);
  if (int err = rtnl_route_set_dst(route.get(), dst.get()); err < 0)
    return fail(nl_geterror(err), errno_of(err));
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (nh == nullptr) return fail("out of memory", ENOMEM);
  if (r.ifindex != 0) rtnl_route_nh_set_ifindex(nh, r.ifindex);
  if (!r.gateway.is_unspec()) {
    NlAddr gw = to_nl(r.gateway, r.gateway.max_prefix());
    rtnl_route_nh_set_gateway(nh, gw.get());  // takes its own reference
  }
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh now
  return route;
}

}  // namespace

Result<std::unique_ptr<Rtnl>> Rtnl::open() {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) return fail("opening rtnetlink socket: out of memory", ENOMEM);
  if (int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
    nl_socket_free(sock);
    return nl_failure("opening rtnetlink socket", err);
  }
  return std::unique_ptr<Rtnl>(new Rtnl(sock));
}

Rtnl::~Rtnl() { nl_socket_free(sock_); }

Result<std::vector<Link>> Rtnl::links() {
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(sock_, AF_UNSPEC, &raw); err < 0)
    return nl_failure("listing links", err);
  CachePtr cache(raw);
  std::vector<Link> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o))
    out.push_back(to_link(reinterpret_cast<rtnl_link*>(o)));
  return out;
}

Result<Link> Rtnl::link(std::string_view name) {
  std::string n(name);
  rtnl_link* raw = nullptr;
  if (int err = rtnl_link_get_kernel(sock_, 0, n.c_str(), &raw); err < 0)
    return nl_failure("looking up link " + n, err);
  LinkPtr l(raw);
  return to_link(l.get());
}

Result<void> Rtnl::set_up(int ifindex, bool up) {
  std::string what =
      std::string("setting link #") + std::to_string(ifindex) + (up ? " up" : " down");
  rtnl_link* raw = nullptr;
  if (int err = rtnl_link_get_kernel(sock_, ifindex, nullptr, &raw); err < 0)
    return nl_failure(what, err);
  LinkPtr orig(raw);
  LinkPtr change(rtnl_link_alloc());
  if (!change) return fail(what + ": out of memory", ENOMEM);
  if (up)
    rtnl_link_set_flags(change.get(), IFF_UP);
  else
    rtnl_link_unset_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sock_, orig.get(), change.get(), 0); err < 0)
    return nl_failure(what, err);
  return ok();
}

Result<void> Rtnl::add_veth(const std::string& name, const std::string& peer) {
  // The peer's namespace is given by pid (IFLA_NET_NS_PID): ours, not pid 0.
  if (int err = rtnl_link_veth_add(sock_, name.c_str(), peer.c_str(), getpid()); err < 0)
    return nl_failure("adding veth pair " + name + "/" + peer, err);
  return ok();
}

Result<void> Rtnl::delete_link(int ifindex) {
  std::string what = "deleting link #" + std::to_string(ifindex);
  LinkPtr l(rtnl_link_alloc());
  if (!l) return fail(what + ": out of memory", ENOMEM);
  rtnl_link_set_ifindex(l.get(), ifindex);
  if (int err = rtnl_link_delete(sock_, l.get()); err < 0) return nl_failure(what, err);
  return ok();
}

namespace {
Result<RtAddr> build_addr(int ifindex, const IpAddress& a, uint8_t len) {
  RtAddr addr(rtnl_addr_alloc());
  NlAddr local = to_nl(a, len);
  if (!addr || !local) return fail("out of memory", ENOMEM);
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  if (int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0)
    return fail(nl_geterror(err), errno_of(err));
  return addr;
}

std::string addr_text(const char* verb, int ifindex, const IpAddress& a, uint8_t len) {
  return std::string(verb) + " address " + a.str() + "/" + std::to_string(len) + " on link #" +
         std::to_string(ifindex);
}
}  // namespace

Result<void> Rtnl::add_address(int ifindex, const IpAddress& a, uint8_t len) {
  std::string what = addr_text("adding", ifindex, a, len);
  auto addr = build_addr(ifindex, a, len);
  if (!addr) return fail(what + ": " + addr.error().message, addr.error().code);
  if (int err = rtnl_addr_add(sock_, addr->get(), NLM_F_EXCL); err < 0)
    return nl_failure(what, err);
  return ok();
}

Result<void> Rtnl::delete_address(int ifindex, const IpAddress& a, uint8_t len) {
  std::string what = addr_text("deleting", ifindex, a, len);
  auto addr = build_addr(ifindex, a, len);
  if (!addr) return fail(what + ": " + addr.error().message, addr.error().code);
  if (int err = rtnl_addr_delete(sock_, addr->get(), 0); err < 0) return nl_failure(what, err);
  return ok();
}

Result<void> Rtnl::add_route(const Route& r) {
  auto route = build_route(r);
  if (!route)
    return fail("adding " + route_text(r) + ": " + route.error().message, route.error().code);
  if (int err = rtnl_route_add(sock_, route->get(), NLM_F_EXCL); err < 0)
    return nl_failure("adding " + route_text(r), err);
  return ok();
}

Result<void> Rtnl::delete_route(const Route& r) {
  auto route = build_route(r);
  if (!route)
    return fail("deleting " + route_text(r) + ": " + route.error().message, route.error().code);
  if (int err = rtnl_route_delete(sock_, route->get(), 0); err < 0)
    return nl_failure("deleting " + route_text(r), err);
  return ok();
}

Result<IpAddress> Rtnl::source_for(const IpAddress& dst) {
  std::string what = "looking up the source address for " + dst.str();
  NlAddr target = to_nl(dst, dst.max_prefix());
  if (!target) return fail(what + ": out of memory", ENOMEM);
  rtnl_route* raw = nullptr;
  if (int err = rtnl_route_lookup(sock_, target.get(), &raw); err < 0) return nl_failure(what, err);
  RoutePtr route(raw);
  nl_addr* src = rtnl_route_get_pref_src(route.get());
  if (src == nullptr) return fail(what + ": the route has no preferred source", EADDRNOTAVAIL);
  auto a = from_nl(src);
  if (!a) return fail(what + ": " + a.error().message, a.error().code);
  return *a;
}

}  // namespace ipsec::netlink
