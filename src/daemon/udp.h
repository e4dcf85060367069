// SPDX-License-Identifier: Apache-2.0
// IKE over UDP: one socket per local address and port, and the engine's Sender over them.
// NAT-T sockets (RFC 3948) carry IKE behind the 4-byte non-ESP marker, which is added and
// removed here: the engine never sees it.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "daemon/fd.h"
#include "ike/io.h"

namespace ipsec::daemon {

struct UdpSocket {
  ike::Endpoint local;
  Fd fd;
  bool natt = false;  // UDP_ENCAP_ESPINUDP: the kernel takes ESP, IKE has the marker
};

// A received datagram and where it came from.
struct Datagram {
  ike::Endpoint remote;
  Bytes data;
};

// Binds a non-blocking UDP socket to `local` (IPv6 sockets are V6ONLY), with an IPsec
// bypass policy; `reuseport`: SO_REUSEPORT before the bind; `natt`: a NAT-T socket
// (UDP_ENCAP_ESPINUDP, so that the kernel decapsulates ESP arriving on it).
Result<UdpSocket> open_udp(const ike::Endpoint& local, bool reuseport = false, bool natt = false);
// `count` sockets on `local`, socket k for worker k: one SO_REUSEPORT group whose
// classic BPF program (shard_program) hands each IKE message to the socket of the worker
// owning its SPI (behind the marker on NAT-T sockets). count 1: one plain socket. Fails
// if anything already holds `local`.
Result<std::vector<UdpSocket>> open_udp_group(const ike::Endpoint& local, uint32_t count,
                                              bool natt = false);
// Reads one datagram; an empty Result value (no data) when none is waiting. On a NAT-T
// socket the non-ESP marker is removed, and anything without it (keepalives, stray
// data) is dropped and read past.
Result<Datagram> receive(const UdpSocket& s);
// What goes on the wire before `datagram` from socket `s`: the non-ESP marker on a
// NAT-T socket, except before a keepalive (the single byte 0xFF, RFC 3948 §2.3); else
// nothing.
ByteView marker_for(const UdpSocket& s, ByteView datagram);
// The IKE message inside a datagram received on `s`; nullopt for what is not IKE (on a
// NAT-T socket: no marker).
std::optional<ByteView> ike_payload(const UdpSocket& s, ByteView datagram);

class UdpSender final : public ike::Sender {
 public:
  explicit UdpSender(const std::vector<UdpSocket>& sockets) : sockets_(sockets) {}
  void send(const ike::Endpoint& from, const ike::Endpoint& to, ByteView datagram) override;
  uint64_t send_errors() const { return send_errors_; }

 private:
  const std::vector<UdpSocket>& sockets_;
  uint64_t send_errors_ = 0;
};

}  // namespace ipsec::daemon
