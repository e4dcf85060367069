// SPDX-License-Identifier: Apache-2.0
// What the CREATE_CHILD_SA files share (create_child.cpp: the exchange for new CHILD SAs
// and CHILD SA rekeys; child_rekey.cpp: what only a CHILD SA rekey needs; ike_rekey.cpp:
// IKE SA rekeys; RFC 7296 §1.3, §2.18): notify and SPI helpers, the nonce order of §2.8,
// error responses.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ike/v2/ike_sa.h"
#include "ike/v2/tasks.h"

namespace ipsec::ike::v2 {

wire::NotifyPayload make_notify(wire::NotifyType t, wire::ProtocolId proto = wire::ProtocolId::None,
                                Bytes spi = {}, Bytes data = {});
// N(INVALID_KE_PAYLOAD) data: the group we want (§3.10.1).
Bytes group_bytes(uint16_t g);
uint64_t spi_value64(ByteView b);
// Lexicographic, shorter first on a common prefix (as strongSwan compares nonces, §2.8).
bool nonce_less(ByteView a, ByteView b);
bool offered_group(const std::vector<IkeProposalConfig>& ps, uint16_t g);
bool offered_group(const std::vector<EspProposalConfig>& ps, uint16_t g);
// Refuses a CREATE_CHILD_SA request with one error Notify, logging why.
void respond_create_error(Context& ctx, IkeSa& sa, uint32_t mid, wire::NotifyPayload n,
                          const std::string& why);

// child_rekey.cpp
// §1.3.3: a rekey names the SPI the exchange's initiator receives on: our outbound SPI.
// The index of that CHILD SA, sa.children.size() for a new one; nullopt: refused (answered).
std::optional<size_t> rekey_target(Context& ctx, IkeSa& sa, uint32_t mid,
                                   const std::vector<wire::Payload>& in);
// §2.8.1: both sides rekeyed `old` at once; true: ours (made with nonce `p.nonce` and the
// peer's `nr`) stands.
bool won_collision(const IkeSa& sa, const ChildSa& old, const PendingCreate& p, ByteView nr);
// After our new CHILD SA is installed: a rekey's old SA goes (Delete), or, having lost a
// collision, ours goes and the peer's stands.
void settle_rekey(Context& ctx, IkeSa& sa, uint32_t new_spi, uint32_t old_spi, uint32_t peer_new,
                  bool won);

// child_rekey.cpp
// §1.3.3: a rekey names the SPI the exchange's initiator receives on: our outbound SPI.
// The index of that CHILD SA, sa.children.size() for a new one; nullopt: refused (answered).
std::optional<size_t> rekey_target(Context& ctx, IkeSa& sa, uint32_t mid,
                                   const std::vector<wire::Payload>& in);
// §2.8.1: both sides rekeyed `old` at once; true: ours (made with nonce `p.nonce` and the
// peer's `nr`) stands.
bool won_collision(const IkeSa& sa, const ChildSa& old, const PendingCreate& p, ByteView nr);
// After our new CHILD SA is installed: a rekey's old SA goes (Delete), or, having lost a
// collision, ours goes and the peer's stands.
void settle_rekey(Context& ctx, IkeSa& sa, uint32_t new_spi, uint32_t old_spi, uint32_t peer_new,
                  bool won);

// ike_rekey.cpp
//   HDR, SK {SA, Ni, KEi}  -->  <--  HDR, SK {SA, Nr, KEr}
// The request's payloads of an IKE SA rekey (new SPI, nonce and key exchange in `p`);
// false: the SA failed and nothing is to be sent.
bool build_ike_rekey(Context& ctx, IkeSa& sa, PendingCreate& p,
                     std::vector<wire::Payload>& payloads);
void respond_ike_rekey(Context& ctx, IkeSa& sa, uint32_t mid, const std::vector<wire::Payload>& in);
Step process_ike_rekey_response(Context& ctx, IkeSa& sa, PendingCreate& p,
                                const std::vector<wire::Payload>& in);

}  // namespace ipsec::ike::v2
