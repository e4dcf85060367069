// SPDX-License-Identifier: Apache-2.0
// What the IKEv2 engine tells the outside world about SA life: for `ipsecctl monitor`
// (the daemon forwards them as lines or JSON) and for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ipsec::ike {

enum class EventKind : uint8_t {
  IkeUp,         // an IKE SA is established (IKE_AUTH done, or a rekey/reauth's new one)
  IkeRekeyed,    // ike_spi replaced old_ike_spi (§2.18); its CHILD SAs moved over
  IkeDown,       // an IKE SA is gone; reason says why
  ChildUp,       // a CHILD SA is installed (IKE_AUTH or CREATE_CHILD_SA)
  ChildRekeyed,  // spi_in replaced old_spi_in
  ChildDown,     // a CHILD SA is gone; reason says why
  DpdFailed,     // the peer did not answer a liveness check within dpd_timeout
  Acquire,       // the kernel asked for a CHILD SA (trap policy hit); detail: the packet
  Repair,        // kernel state changed behind our back was repaired; detail: what and how
};
std::string_view to_string(EventKind k);  // "ike-up", "ike-rekeyed", ..., "acquire"

struct EngineEvent {
  EventKind kind = EventKind::IkeUp;
  std::string connection;
  std::string child;                 // the CHILD SA config's name, for child events and Acquire
  uint64_t ike_spi = 0;              // our SPI of the IKE SA (the new one for IkeRekeyed)
  uint64_t old_ike_spi = 0;          // IkeRekeyed
  uint32_t spi_in = 0, spi_out = 0;  // child events (the new SA for ChildRekeyed)
  uint32_t old_spi_in = 0;           // ChildRekeyed
  std::string reason;                // IkeDown, ChildDown, DpdFailed: "deleted by peer",
                                     // "hard lifetime expired", "dead peer", "inactivity", ...
  std::string detail;                // Acquire: "10.1.0.5 -> 10.2.0.7 proto 1"; otherwise free
};

using EventHandler = std::function<void(const EngineEvent&)>;

}  // namespace ipsec::ike
