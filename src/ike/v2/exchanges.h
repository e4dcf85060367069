// The exchange handlers (one file each), called by the engine's dispatcher.
#pragma once

#include <memory>

#include "ike/v2/ike_sa.h"

namespace ipsec::ike::v2 {

// ike_sa_init.cpp (RFC 7296 §1.2)
//   HDR, SAi1, KEi, Ni  -->
//                      <--  HDR, SAr1, KEr, Nr    |  HDR, N(INVALID_KE_PAYLOAD
//                      | NO_PROPOSAL_CHOSEN)
Result<void> start_sa_init(Context &ctx, IkeSa &sa);
// A new IKE SA in SaInitDone, or nullptr when refused (the error was answered
// statelessly).
std::unique_ptr<IkeSa> respond_sa_init(Context &ctx, const ConnectionConfig &config,
                                       const Endpoint &local, const Endpoint &remote,
                                       ByteView datagram, const wire::Message &m);
void process_sa_init_response(Context &ctx, IkeSa &sa, ByteView datagram, const wire::Message &m);

// ike_auth.cpp (RFC 7296 §1.2, §2.15, §2.17)
//   HDR, SK {IDi, AUTH, [N(USE_TRANSPORT_MODE)], SAi2, TSi, TSr}  -->
//                      <--  HDR, SK {IDr, AUTH, [N(USE_TRANSPORT_MODE)], SAr2,
//                      TSi, TSr}
//                      <--  HDR, SK {N(AUTHENTICATION_FAILED)}
//                      <--  HDR, SK {IDr, AUTH, N(NO_PROPOSAL_CHOSEN |
//                      TS_UNACCEPTABLE)}
Result<void> start_auth(Context &ctx, IkeSa &sa);
void respond_auth(Context &ctx, IkeSa &sa, ByteView datagram, const wire::Message &m);
void process_auth_response(Context &ctx, IkeSa &sa, ByteView datagram, const wire::Message &m);

// child_sa.cpp: the first CHILD SA's kernel side (§2.17 KEYMAT, SAs, policies).
Result<uint32_t> alloc_inbound_spi(Context &ctx, const IkeSa &sa);
Result<void> install_child(Context &ctx, IkeSa &sa);
// Releases the inbound SPI of a CHILD SA that will not be installed.
void release_child_spi(Context &ctx, IkeSa &sa);
Bytes esp_spi_bytes(uint32_t spi);
uint32_t esp_spi_value(ByteView spi);

}  // namespace ipsec::ike::v2
