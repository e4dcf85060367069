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

// Binds a non-blocking UDP socket to `local` (IPv6 sockets are V6ONLY).
Result<UdpSocket> open_udp(const ike::v2::Endpoint& local);
// Reads one datagram; an empty Result value (no data) when none is waiting.
Result<Datagram> receive(const UdpSocket& s);

class UdpSender final : public ike::v2::Sender {
 public:
  explicit UdpSender(const std::vector<UdpSocket>& sockets) : sockets_(sockets) {}
  void send(const ike::v2::Endpoint& from, const ike::v2::Endpoint& to,
            ByteView datagram) override;
  uint64_t send_errors() const { return send_errors_; }

 private:
  const std::vector<UdpSocket>& sockets_;
  uint64_t send_errors_ = 0;
};

}  // namespace ipsec::daemon
