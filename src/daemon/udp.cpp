// SPDX-License-Identifier: Apache-2.0
// IKE over UDP: binding, receiving and sending datagrams.
#include "daemon/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>
#include <vector>

#include "common/log.h"
#include "daemon/shard.h"

namespace ipsec::daemon {

namespace {

constexpr size_t kMaxDatagram = 65535;
constexpr size_t kMarkerLen = 4;        // RFC 3948 §2.2: non-ESP marker, four zero bytes
constexpr int kMaxSkippedPerRead = 16;  // non-IKE datagrams read past in one receive()

bool is_keepalive(ByteView d) { return d.size() == 1 && d[0] == 0xff; }

socklen_t to_sockaddr(const ike::Endpoint& e, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (e.addr.family == Family::V4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(e.port);
    std::memcpy(&sin->sin_addr, e.addr.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(e.port);
  std::memcpy(&sin6->sin6_addr, e.addr.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

ike::Endpoint from_sockaddr(const sockaddr_storage& ss) {
  ike::Endpoint e;
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    e.addr.family = Family::V4;
    std::memcpy(e.addr.bytes.data(), &sin->sin_addr, 4);
    e.port = ntohs(sin->sin_port);
  } else {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    e.addr.family = Family::V6;
    std::memcpy(e.addr.bytes.data(), &sin6->sin6_addr, 16);
    e.port = ntohs(sin6->sin6_port);
  }
  return e;
}

Error sys_error(const std::string& what) {
  int err = errno;
  return Error{what + ": " + std::strerror(err), err};
}

// Per-socket bypass policies (as charon sets them): IKE messages never enter
// the SAs they negotiate, even when a transport-mode policy covers the
// peers' own addresses or a tunnel policy covers the gateways.
Result<void> bypass_ipsec(int fd, Family family, const std::string& where) {
  int level = family == Family::V4 ? IPPROTO_IP : IPPROTO_IPV6;
  int opt = family == Family::V4 ? IP_XFRM_POLICY : IPV6_XFRM_POLICY;
  for (uint8_t dir : {uint8_t{XFRM_POLICY_IN}, uint8_t{XFRM_POLICY_OUT}}) {
    xfrm_userpolicy_info p{};
    p.action = XFRM_POLICY_ALLOW;
    p.dir = dir;
    p.sel.family = static_cast<uint16_t>(family == Family::V4 ? AF_INET : AF_INET6);
    p.lft.soft_byte_limit = p.lft.hard_byte_limit = XFRM_INF;
    p.lft.soft_packet_limit = p.lft.hard_packet_limit = XFRM_INF;
    if (::setsockopt(fd, level, opt, &p, sizeof p) != 0)
      return fail(sys_error(std::string("IPsec bypass policy (") +
                            (dir == XFRM_POLICY_IN ? "in" : "out") + ") on " + where));
  }
  return {};
}

}  // namespace

Result<UdpSocket> open_udp(const ike::Endpoint& local, bool reuseport, bool natt) {
  if (local.addr.is_unspec()) return fail("no local address to bind");
  UdpSocket s{local, Fd(::socket(local.addr.af(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)),
              natt};
  if (!s.fd.valid()) return fail(sys_error("socket for " + local.str()));
  int one = 1;
  if (local.addr.family == Family::V6)
    ::setsockopt(s.fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (reuseport && ::setsockopt(s.fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return fail(sys_error("SO_REUSEPORT on " + local.str()));
  if (auto r = bypass_ipsec(s.fd.get(), local.addr.family, local.str()); !r) return fail(r.error());
  // RFC 3948: the kernel decapsulates ESP in UDP arriving here and consumes keepalives;
  // IKE (behind the non-ESP marker) still reaches the socket.
  int encap = UDP_ENCAP_ESPINUDP;
  if (natt && ::setsockopt(s.fd.get(), IPPROTO_UDP, UDP_ENCAP, &encap, sizeof encap) != 0)
    return fail(sys_error("UDP_ENCAP on " + local.str()));
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(local, ss);
  if (::bind(s.fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return fail(sys_error("bind " + local.str()));
  return s;
}

Result<std::vector<UdpSocket>> open_udp_group(const ike::Endpoint& local, uint32_t count,
                                              bool natt) {
  std::vector<UdpSocket> out;
  if (count <= 1) {
    auto s = open_udp(local, false, natt);
    if (!s) return fail(s.error());
    out.push_back(std::move(*s));
    return out;
  }
  // SO_REUSEPORT would let us join a group another process (of our uid) holds: a plain
  // bind first fails if anyone has the address.
  if (auto probe = open_udp(local, false, natt); !probe) return fail(probe.error());
  const std::vector<sock_filter> prog =
      shard_program(natt ? kIkeOffsetNatT : kIkeOffsetPort500, count);
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
  for (uint32_t i = 0; i < count; ++i) {
    // The kernel appends each bound socket to the group's array: index = bind order.
    auto s = open_udp(local, true, natt);
    if (!s) return fail(s.error());
    if (i == 0 &&
        ::setsockopt(s->fd.get(), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof fprog) != 0)
      return fail(sys_error("SO_ATTACH_REUSEPORT_CBPF on " + local.str()));
    out.push_back(std::move(*s));
  }
  return out;
}

std::optional<ByteView> ike_payload(const UdpSocket& s, ByteView datagram) {
  if (!s.natt) return datagram;
  if (datagram.size() < kMarkerLen) return std::nullopt;
  for (size_t i = 0; i < kMarkerLen; ++i)
    if (datagram[i] != 0) return std::nullopt;
  return datagram.subspan(kMarkerLen);
}

ByteView marker_for(const UdpSocket& s, ByteView datagram) {
  static constexpr uint8_t kMarker[kMarkerLen] = {0, 0, 0, 0};
  if (!s.natt || is_keepalive(datagram)) return {};
  return ByteView(kMarker, kMarkerLen);
}

Result<Datagram> receive(const UdpSocket& s) {
  // One read buffer per worker thread: a datagram costs a copy of its own size, not a
  // fresh 64 KiB allocation.
  thread_local std::vector<uint8_t> buf(kMaxDatagram);
  Datagram d;
  for (int skipped = 0; skipped < kMaxSkippedPerRead; ++skipped) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ssize_t n =
        ::recvfrom(s.fd.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return d;
      return fail(sys_error("recvfrom on " + s.local.str()));
    }
    const ByteView got(buf.data(), static_cast<size_t>(n));
    d.remote = from_sockaddr(ss);
    auto ike = ike_payload(s, got);
    if (!ike) {
      log::debug(std::string(is_keepalive(got) ? "NAT keepalive"
                                               : "datagram without the "
                                                 "non-ESP marker") +
                 " from " + d.remote.str() + " on " + s.local.str() + " dropped");
      continue;
    }
    d.data.assign(ike->begin(), ike->end());
    return d;
  }
  return d;  // empty: more may wait, epoll reports the socket again
}

void UdpSender::send(const ike::Endpoint& from, const ike::Endpoint& to, ByteView payload) {
  for (const UdpSocket& s : sockets_) {
    if (!(s.local == from)) continue;
    const ByteView marker = marker_for(s, payload);
    iovec iov[2] = {{const_cast<uint8_t*>(marker.data()), marker.size()},
                    {const_cast<uint8_t*>(payload.data()), payload.size()}};
    sockaddr_storage ss;
    msghdr msg{};
    msg.msg_name = &ss;
    msg.msg_namelen = to_sockaddr(to, ss);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    if (::sendmsg(s.fd.get(), &msg, MSG_NOSIGNAL) < 0) {
      ++send_errors_;
      log::warn(sys_error("sendto " + to.str() + " from " + from.str()).message);
    }
    return;
  }
  ++send_errors_;
  log::warn("no socket bound to " + from.str() + ": datagram to " + to.str() + " dropped");
}

}  // namespace ipsec::daemon
