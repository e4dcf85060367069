// The exchange handlers (one file each), called by the engine's dispatcher.
#pragma once

#include <memory>

#include "ike/v2/ike_sa.h"

namespace ipsec::ike::v2 {

// ike_sa_init.cpp (RFC 7296 §1.2)
//   HDR, SAi1, KEi, Ni  -->
//                      <--  HDR, SAr1, KEr, Nr    |  HDR, N(INVALID_KE_PAYLOAD
//                      | NO_PROPOSAL_CHOSEN)
//                      <--  HDR, N(COOKIE)   (§2.6, see cookie.h)
//   HDR, N(COOKIE), SAi1, KEi, Ni  -->
Result<void> start_sa_init(Context &ctx, IkeSa &sa);
// (Re)sends IKE_SA_INIT with the SA's KE, nonce and cookie (message ID 0).
void send_init_request(Context &ctx, IkeSa &sa);
// A stateless answer to an IKE_SA_INIT request: one Notify, SPIr zero.
void send_init_notify(Context &ctx, const Endpoint &local, const Endpoint &remote,
                      const wire::Header &req, wire::NotifyType type, Bytes data = {});
// A new IKE SA in SaInitDone, or nullptr when refused (the error was answered
// statelessly).
std::unique_ptr<IkeSa> respond_sa_init(Context &ctx, const ConnectionConfig &config,
                                       const Endpoint &local, const Endpoint &remote,
                                       ByteView datagram, const wire::Message &m);
// `local`, `remote`: the endpoints the response came on, for NAT detection (nat.h).
void process_sa_init_response(Context &ctx, IkeSa &sa, const Endpoint &local,
                              const Endpoint &remote, ByteView datagram, const wire::Message &m);

// ike_auth.cpp (RFC 7296 §1.2, §2.15, §2.17)
//   HDR, SK {IDi, AUTH, [N(USE_TRANSPORT_MODE)], SAi2, TSi, TSr}  -->
//                      <--  HDR, SK {IDr, AUTH, [N(USE_TRANSPORT_MODE)], SAr2,
//                      TSi, TSr}
//                      <--  HDR, SK {N(AUTHENTICATION_FAILED)}
//                      <--  HDR, SK {IDr, AUTH, N(NO_PROPOSAL_CHOSEN |
//                      TS_UNACCEPTABLE)}
Result<void> start_auth(Context &ctx, IkeSa &sa);
// `local`, `remote`: where the request came (the initiator may have moved to the NAT-T port).
void respond_auth(Context &ctx, IkeSa &sa, const Endpoint &local, const Endpoint &remote,
                  ByteView datagram, const wire::Message &m);
void process_auth_response(Context &ctx, IkeSa &sa, ByteView datagram, const wire::Message &m);

// informational.cpp (RFC 7296 §1.4, §1.5)
//   HDR, SK {D(IKE)}                -->   <--  HDR, SK {}
//   HDR, SK {D(ESP, our SPIin)}     -->   <--  HDR, SK {D(ESP, peer's SPIin)}
//   HDR, SK {}  (liveness)          -->   <--  HDR, SK {}
// Either side may initiate (§2.2: one message ID counter per direction).
// Sends the request now, or queues it while another one is in flight (window 1).
// DeleteIke removes the kernel state at once and moves the SA to Deleting.
void start_informational(Context &ctx, IkeSa &sa, QueuedRequest request);
// Sends the next queued request if the window is free.
void send_queued(Context &ctx, IkeSa &sa);
// Deletes the IKE SA towards the peer because of `failure` (§2.21.2), or closes
// it at once when the peer cannot be told (no keys yet).
void fail_and_delete(Context &ctx, IkeSa &sa, std::string failure);
void respond_informational(Context &ctx, IkeSa &sa, ByteView datagram, const wire::Message &m);
void process_informational_response(Context &ctx, IkeSa &sa, ByteView datagram,
                                    const wire::Message &m);

// child_sa.cpp: the first CHILD SA's kernel side (§2.17 KEYMAT, SAs, policies).
Result<uint32_t> alloc_inbound_spi(Context &ctx, const IkeSa &sa);
Result<void> install_child(Context &ctx, IkeSa &sa);
// Releases the inbound SPI of a CHILD SA that will not be installed.
void release_child_spi(Context &ctx, IkeSa &sa);
// Removes the CHILD SA from the kernel: both ESP SAs and its policies, or the
// inbound SPI alone if it was never installed.
void remove_child(Context &ctx, IkeSa &sa);
Bytes esp_spi_bytes(uint32_t spi);
uint32_t esp_spi_value(ByteView spi);

}  // namespace ipsec::ike::v2
