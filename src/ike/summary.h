// SPDX-License-Identifier: Apache-2.0
// What an IKE engine tells the daemon about its SAs, whatever the IKE version: plain
// values (no engine internals), for status, `down`, ACQUIRE routing and tests. Times are
// engine time (ike::Millis; 0: none).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/secret.h"
#include "ike/config.h"
#include "ike/io.h"
#include "wire/payloads.h"

namespace ipsec::ike {

// An IKE SA handed from one ipsecd process to the next (Ike::hand_over): our SPI (which
// worker continues it) and its record, keys included.
struct HandoverRecord {
  uint64_t local_spi = 0;
  SecretBytes data;
};

struct ChildSummary {
  std::string name;               // the child config's
  std::string state;              // "none", "installed", "rekeying", "rekeyed", "failed", "deleted"
  bool in_kernel = false;         // its ESP SAs are installed
  bool outbound_pending = false;  // its outbound SA is not in the kernel yet
  uint32_t spi_in = 0, spi_out = 0;
  bool transport = false;
  std::vector<std::string> local_ts, remote_ts;  // "10.1.0.0/16"
  std::string algorithms;  // "ENCR_AES_GCM_16_256/ESN_NO"; empty while negotiated
  std::string failure;
  uint32_t replaces = 0;  // the inbound SPI of the CHILD SA it rekeyed
  Millis installed{0}, soft_at{0}, hard_at{0};
};

enum class SaPhase : uint8_t {
  Negotiating,  // not yet authenticated
  Established,
  Deleting,  // our Delete is out
  Gone,      // closed or failed; about to leave the table
};

struct IkeSaSummary {
  unsigned version = 2;
  std::string connection;
  uint64_t local_spi = 0, spi_i = 0, spi_r = 0;
  bool initiator = false;
  SaPhase phase = SaPhase::Negotiating;
  std::string state;      // the engine's own word: "established", "auth-sent", ...
  bool replaced = false;  // rekeyed or reauthenticated: a newer IKE SA carries on
  Endpoint local, remote;
  std::string algorithms;
  // Established: who the peer authenticated as, how ("psk", "pubkey"), and the subject of
  // its certificate (pubkey).
  std::string peer_id, peer_auth, peer_cert;
  std::string failure;
  Millis created{0}, established_at{0}, rekey_at{0}, expire_at{0};
  uint64_t replaces = 0;  // the IKE SA it rekeyed, if any
  std::vector<ChildSummary> children;
};

struct ClosedSummary {
  std::string label;  // "IKE SA 0x...i/0x...r 192.0.2.2[500]"
  std::string state;  // "closed" or "failed"
  std::string reason;
  std::string child_failure;
};

// "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519"
std::string describe_transforms(const wire::Proposal& p);

}  // namespace ipsec::ike
