// SPDX-License-Identifier: Apache-2.0
// The exchange handlers (one file each), called by the engine's dispatcher.
#pragma once

#include <memory>

#include "ike/child_kernel.h"
#include "ike/v2/ike_sa.h"
#include "ike/v2/inbound.h"
#include "ike/v2/tasks.h"

namespace ipsec::ike::v2 {

// ike_sa_init.cpp (RFC 7296 §1.2)
//   HDR, SAi1, KEi, Ni  -->
//                      <--  HDR, SAr1, KEr, Nr    |  HDR, N(INVALID_KE_PAYLOAD
//                      | NO_PROPOSAL_CHOSEN)
//                      <--  HDR, N(COOKIE)   (§2.6, see cookie.h)
//   HDR, N(COOKIE), SAi1, KEi, Ni  -->
// Our SPI for a new IKE SA: random, non-zero, in this engine's shard.
Result<uint64_t> random_spi(crypto::RandomSource& random, const SpiShard& shard);
// The initiator's first message; sa.spi_i is set already.
Result<void> start_sa_init(Context& ctx, IkeSa& sa);
// (Re)sends IKE_SA_INIT with the SA's KE, nonce and cookie (message ID 0).
void send_init_request(Context& ctx, IkeSa& sa);
// A stateless answer to an IKE_SA_INIT request: one Notify, SPIr zero.
void send_init_notify(Context& ctx, const Endpoint& local, const Endpoint& remote,
                      const wire::Header& req, wire::NotifyType type, Bytes data = {});
// A new IKE SA in SaInitDone, or nullptr when refused (the error was answered
// statelessly).
std::unique_ptr<IkeSa> respond_sa_init(Context& ctx, std::shared_ptr<const ConnectionConfig> config,
                                       const Endpoint& local, const Endpoint& remote,
                                       ByteView datagram, const wire::Message& m);

// ike_auth.cpp (RFC 7296 §1.2, §2.15, §2.17)
//   HDR, SK {IDi, AUTH, [N(USE_TRANSPORT_MODE)], SAi2, TSi, TSr}  -->
//                      <--  HDR, SK {IDr, AUTH, [N(USE_TRANSPORT_MODE)], SAr2,
//                      TSi, TSr}
//                      <--  HDR, SK {N(AUTHENTICATION_FAILED)}
//                      <--  HDR, SK {IDr, AUTH, N(NO_PROPOSAL_CHOSEN |
//                      TS_UNACCEPTABLE)}
Result<void> start_auth(Context& ctx, IkeSa& sa);
// `in.local`, `in.remote`: where the request came (the initiator may have moved to the
// NAT-T port).
void respond_auth(Context& ctx, IkeSa& sa, const Inbound& in);

// informational.cpp (RFC 7296 §1.4, §1.5)
//   HDR, SK {D(IKE)}                -->   <--  HDR, SK {}
//   HDR, SK {D(ESP, our SPIin)}     -->   <--  HDR, SK {D(ESP, peer's SPIin)}
//   HDR, SK {}  (liveness)          -->   <--  HDR, SK {}
// Either side may initiate (§2.2: one message ID counter per direction).
// Sends the request now, or queues it while another one is in flight (window 1).
// DeleteIke removes the kernel state at once and moves the SA to Deleting.
void start_informational(Context& ctx, IkeSa& sa, QueuedRequest request);
// Sends a Delete or a liveness check now; the request queue made sure the window is free.
void send_informational(Context& ctx, IkeSa& sa, QueuedRequest request);
// Deletes the IKE SA towards the peer because of `failure` (§2.21.2), or closes
// it at once when the peer cannot be told (no keys yet).
void fail_and_delete(Context& ctx, IkeSa& sa, std::string failure);
void respond_informational(Context& ctx, IkeSa& sa, const Inbound& in);
// Removes the IKE SA and everything it owns (Closed, or Failed when sa.failure is set);
// the engine drops it from its table. Emits IkeDown unless it was rekeyed.
void close_sa(Context& ctx, IkeSa& sa, std::string reason);

// child_sa.cpp: CHILD SAs in the kernel (§2.17 KEYMAT; the kernel programming itself,
// lifetimes, trap policies and ESP SPI helpers are version-neutral: ike/child_kernel.h).
Result<uint32_t> alloc_inbound_spi(Context& ctx, const IkeSa& sa, const ChildConfig& cc);
// The child config's name ("?" for a CHILD SA whose config is not chosen yet).
std::string_view child_name(const ChildSa& c);
// Nonces of the exchange that created the CHILD SA, its g^ir when it had a KE (PFS), and
// whether we initiated that exchange (its initiator-to-responder keys come first).
struct KeymatInput {
  ByteView ni, nr;
  const SecretBytes* g_ir = nullptr;
  bool we_initiated = true;
};
// Inbound SA, outbound SA (kept in c.pending_out when `outbound_later`), policies
// (counted); lifetimes from the config with jitter. All or nothing. Emits ChildUp or
// ChildRekeyed (c.replaces).
Result<void> install_child(Context& ctx, IkeSa& sa, ChildSa& c, const KeymatInput& in,
                           bool outbound_later = false);
// ChildUp or ChildRekeyed for an installed CHILD SA (install_child does this unless the SA
// waits for a §2.8.1 collision to be decided: ChildSa::announce_later).
void announce_child(Context& ctx, const IkeSa& sa, ChildSa& c);
Result<void> install_pending_outbound(Context& ctx, IkeSa& sa, ChildSa& c);
// Releases the inbound SPI of a CHILD SA that will not be installed.
void release_child_spi(Context& ctx, IkeSa& sa, ChildSa& c);
bool child_in_kernel(const ChildSa& c);
// Removes a CHILD SA from the kernel: both ESP SAs, one use of its policies, or the
// inbound SPI alone if it was never installed. Emits ChildDown unless it was replaced.
void remove_child(Context& ctx, IkeSa& sa, ChildSa& c, std::string_view reason);
void remove_children(Context& ctx, IkeSa& sa, std::string_view reason);
// Drops Deleted entries from sa.children.
void forget_deleted_children(IkeSa& sa);
Result<std::vector<kernel::PolicyParams>> child_policies(const IkeSa& sa, const ChildSa& c);

// create_child.cpp (RFC 7296 §1.3, §2.8, §2.18)
//   HDR, SK {SA, Ni, [KEi], TSi, TSr}                      -->  a new CHILD SA
//   HDR, SK {N(REKEY_SA), SA, Ni, [KEi], TSi, TSr}         -->  a CHILD SA rekey
//   HDR, SK {SA, Ni, KEi}                                  -->  an IKE SA rekey
//                               <--  HDR, SK {SA, Nr, [KEr], [TSi, TSr]}
//                               <--  HDR, SK {N(error)}
// Sends the request of `request` (CreateChild, RekeyChild or RekeyIke) now; the caller
// made sure the window is free.
void send_create(Context& ctx, IkeSa& sa, QueuedRequest request);
void respond_create_child(Context& ctx, IkeSa& sa, const Inbound& in);

// request_queue.cpp: our requests on one IKE SA, one at a time (window size 1, §2.3).
// Queues a request unless the same one is queued, delayed or in flight already, then
// sends the next one if the window is free.
void enqueue(Context& ctx, IkeSa& sa, QueuedRequest request);
// Sends the next queued request if the window is free and the SA can carry it.
void send_queued(Context& ctx, IkeSa& sa);
// §2.25: after TEMPORARY_FAILURE the request goes again after a random 1 to 5 s.
void postpone(Context& ctx, IkeSa& sa, QueuedRequest request);
// Delayed requests whose time has come go back into the queue.
void release_delayed(IkeSa& sa, Millis now);

// lifecycle.cpp: IKE SA lifetimes, DPD, inactivity, delayed requests.
// Arms rekey_at/expire_at from the config (jitter applied) when the SA is established.
void arm_ike_lifetime(Context& ctx, IkeSa& sa);
void on_lifecycle_timer(Context& ctx, IkeSa& sa, Millis now);
std::optional<Millis> lifecycle_deadline(const Context& ctx, const IkeSa& sa);
// Closes the IKE SA without telling the peer (it is gone) and applies dpd_action.
void peer_dead(Context& ctx, IkeSa& sa, std::string reason);

}  // namespace ipsec::ike::v2
