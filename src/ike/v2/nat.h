// SPDX-License-Identifier: Apache-2.0
// NAT traversal for IKEv2 (RFC 7296 §2.23): the NAT_DETECTION_* notifies of IKE_SA_INIT,
// the move to the NAT-T port, following a NATed peer, keepalives (RFC 3948 §2.3).
// Plain functions the exchanges call.
#pragma once

#include <vector>

#include "ike/v2/ike_sa.h"

namespace ipsec::ike::v2 {

// §2.23: SHA-1(SPIi | SPIr | IP address | port), SPIr zero in the IKE_SA_INIT request.
Result<Bytes> natd_hash(uint64_t spi_i, uint64_t spi_r, const Endpoint& e);

// N(NAT_DETECTION_SOURCE_IP) and N(NAT_DETECTION_DESTINATION_IP) for a message from
// sa.local to sa.remote carrying SPIs spi_i | spi_r. With force_encap the source hash is
// random, so that the peer believes we are behind a NAT (strongSwan's `encap = yes`).
Result<std::vector<wire::Payload>> natd_payloads(const IkeSa& sa, uint64_t spi_r);

// What the NAT_DETECTION_* notifies of a received IKE_SA_INIT message tell.
struct NatdResult {
  bool present = false;     // both kinds received (with the right length)
  bool local_nat = false;   // the destination hash did not match: we are behind a NAT
  bool remote_nat = false;  // no source hash matched: the sender is behind a NAT
};

// Checks the notifies of `m` (SPIs from its header) against the endpoints it was
// received on. Notifies of the wrong length (not 20 bytes) are ignored and counted; an
// incomplete set means the peer does no NAT detection.
NatdResult check_natd(Context& ctx, const wire::Message& m, const Endpoint& local,
                      const Endpoint& remote);

// Records the result in sa.nat and logs it.
void apply_natd(Context& ctx, IkeSa& sa, const NatdResult& r);

// Initiator, after IKE_SA_INIT: moves both endpoints to the NAT-T port if a NAT was
// detected or encapsulation is forced (§2.23); everything after goes there.
void float_to_natt_port(Context& ctx, IkeSa& sa);

// After an authenticated request: the endpoints it used. A responder adopts the NAT-T
// port once the initiator moved there; the side not behind a NAT follows a NATed
// peer's address and port (§2.23).
void follow_peer(Context& ctx, IkeSa& sa, const Endpoint& local, const Endpoint& remote);

// UDP encapsulation for the CHILD SA's ESP SAs, if a NAT is (or is faked to be)
// in the way; sport/dport as seen by the direction's sender.
std::optional<kernel::Encap> esp_encap(const IkeSa& sa, bool inbound);

// Arms the keepalive timer when the SA is established behind a NAT.
void arm_keepalive(Context& ctx, IkeSa& sa);
// Sends a keepalive if due and rearms.
void on_keepalive_timer(Context& ctx, IkeSa& sa, Millis now);
// When the next keepalive is due, if any.
std::optional<Millis> keepalive_deadline(const Context& ctx, const IkeSa& sa);

}  // namespace ipsec::ike::v2
