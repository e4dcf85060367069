// SPDX-License-Identifier: Apache-2.0
// What the IKEv2 engine needs from the outside world besides the kernel: a
// datagram sender and a monotonic clock. The daemon implements them over UDP
// sockets and timerfd; tests with an in-memory network and a fake clock.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/bytes.h"
#include "ike/config.h"

namespace ipsec::ike {

// Monotonic milliseconds since an arbitrary epoch.
using Millis = std::chrono::milliseconds;

// `from` names our endpoint: a datagram from the NAT-T port (NatConfig::port) goes out
// with the 4-byte non-ESP marker prepended by the Sender (RFC 3948 §2.2), except a NAT
// keepalive, which is the single byte 0xFF (RFC 3948 §2.3) and never carries a marker.
// Received datagrams reach Engine::on_datagram with the marker already removed.
class Sender {
 public:
  virtual ~Sender() = default;
  virtual void send(const Endpoint& from, const Endpoint& to, ByteView datagram) = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now() const = 0;
};

// Named counters: every dropped message and every failure bumps one.
struct Counters {
  uint64_t dropped_malformed = 0;    // parse or payload-rule failure
  uint64_t dropped_unknown_spi = 0;  // no IKE SA for the SPI
  uint64_t dropped_unexpected = 0;   // wrong state, message ID or role
  uint64_t dropped_integrity = 0;    // SK payload did not verify
  uint64_t retransmits = 0;          // requests we sent again
  uint64_t duplicates_answered = 0;  // requests answered from the cached response
  uint64_t no_proposal_chosen = 0;
  uint64_t invalid_ke_sent = 0;
  uint64_t invalid_ke_received = 0;
  uint64_t auth_failed = 0;
  uint64_t ts_unacceptable = 0;
  uint64_t timeouts = 0;  // SAs that gave up retransmitting
  uint64_t kernel_errors = 0;
  // Drift repair: CHILD SAs whose ESP SAs vanished from the kernel behind our back, rekeyed.
  uint64_t kernel_sas_missing = 0;
  uint64_t ike_established = 0;
  uint64_t child_installed = 0;
  uint64_t ike_deleted = 0;             // IKE SAs closed by a Delete, ours or the peer's
  uint64_t child_deleted = 0;           // CHILD SAs removed by a Delete, ours or the peer's
  uint64_t liveness_answered = 0;       // empty INFORMATIONAL requests answered
  uint64_t half_open_expired = 0;       // responder SAs that never saw IKE_AUTH
  uint64_t dropped_half_open_limit = 0;  // IKE_SA_INIT over EngineLimits::half_open_per_source
  uint64_t dropped_unsupported = 0;     // requests of exchanges we do not implement
  uint64_t cookies_sent = 0;            // IKE_SA_INIT answered with N(COOKIE)
  uint64_t cookies_invalid = 0;         // IKE_SA_INIT with a COOKIE we did not make
  uint64_t initial_contact_closed = 0;  // older IKE SAs closed by the peer's INITIAL_CONTACT
  uint64_t nat_detected = 0;            // IKE SAs that found a NAT (or faked one) in IKE_SA_INIT
  uint64_t natd_ignored = 0;            // NAT_DETECTION_* notifies of the wrong length
  uint64_t nat_keepalives = 0;          // keepalives sent (RFC 3948 §2.3)
  // IKE fragmentation (RFC 7383): SKF datagrams we sent (retransmissions included), the
  // peer's that verified and were kept, messages put together, and fragments dropped
  // (integrity, limits, duplicates, fragmentation off).
  uint64_t fragments_sent = 0;
  uint64_t fragments_received = 0;
  uint64_t fragments_reassembled = 0;
  uint64_t fragments_dropped = 0;
  // OCSP for peers' certificates (crypto::OcspCounters of the engine's client).
  uint64_t ocsp_requests = 0;    // sent to a responder
  uint64_t ocsp_cache_hits = 0;  // answered from the cache
  uint64_t ocsp_failed = 0;      // no usable answer
  uint64_t ocsp_revoked = 0;     // "revoked" answers
};

}  // namespace ipsec::ike
