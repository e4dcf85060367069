// IKE over UDP: one socket per local address and port, and the engine's Sender over them.
#pragma once

#include <cstddef>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "daemon/fd.h"
#include "ike/v2/io.h"

namespace ipsec::daemon {

struct UdpSocket {
  ike::v2::Endpoint local;
  Fd fd;
};

// A received datagram and where it came from.
struct Datagram {
  ike::v2::Endpoint remote;
  Bytes data;
};

// Binds a non-blocking UDP socket to `local` (IPv6 sockets are V6ONLY), with an IPsec
// bypass policy; `reuseport`: SO_REUSEPORT before the bind.
Result<UdpSocket> open_udp(const ike::v2::Endpoint& local, bool reuseport = false);
// `count` sockets on `local`, socket k for worker k: one SO_REUSEPORT group whose
// classic BPF program (shard_program) hands each IKE message to the socket of the worker
// owning its SPI. count 1: one plain socket. Fails if anything already holds `local`.
Result<std::vector<UdpSocket>> open_udp_group(const ike::v2::Endpoint& local, uint32_t count);
// Reads one datagram; an empty Result value (no data) when none is waiting.
Result<Datagram> receive(const UdpSocket& s);

class UdpSender final : public ike::v2::Sender {
 public:
  explicit UdpSender(const std::vector<UdpSocket>& sockets) : sockets_(sockets) {}
  void send(const ike::v2::Endpoint& from, const ike::v2::Endpoint& to, ByteView datagram) override;
  uint64_t send_errors() const { return send_errors_; }

 private:
  const std::vector<UdpSocket>& sockets_;
  uint64_t send_errors_ = 0;
};

}  // namespace ipsec::daemon
