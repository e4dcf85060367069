// SPDX-License-Identifier: Apache-2.0
// The fuzz targets' shared fixture (handover_fuzz, sk_fuzz): a connection "from-alice"
// (responder side, PSK, children "lan" and "dmz" with AES-GCM ESP proposals) and an
// established IKE SA of it with known keys, as the engine would hand it over.
#pragma once

#include "ike/connections.h"
#include "ike/v2/ike_sa.h"
#include "ike/v2/proposals.h"

namespace ipsec::ike::v2::fuzz {

inline IpAddress ip(const char* s) { return *IpAddress::parse(s); }

inline Connections& connections() {
  static Connections* c = [] {
    auto* cs = new Connections;  // for the process's life
    ConnectionConfig conn;
    conn.name = "from-alice";
    conn.local = {ip("192.0.2.2"), 500};
    conn.remote = {ip("192.0.2.1"), 500};
    conn.local_id = Identity::fqdn("bob.example");
    conn.remote_id = Identity::fqdn("alice.example");
    conn.psk = SecretBytes(Bytes(32, 0x42));
    conn.proposals = {IkeProposalConfig{{{wire::EncrId::AesGcm16, 256}},
                                        {wire::PrfId::HmacSha2_256},
                                        {},
                                        {wire::DhGroup::Curve25519}}};
    for (const char* n : {"lan", "dmz"}) {
      ChildConfig ch;
      ch.name = n;
      ch.local_ts = {*Prefix::parse("10.2.0.0/16")};
      ch.remote_ts = {*Prefix::parse("10.1.0.0/16")};
      ch.proposals = {EspProposalConfig{{{wire::EncrId::AesGcm16, 256}}, {}, {wire::EsnId::NoEsn}, {}}};
      conn.children.push_back(ch);
    }
    cs->add(std::move(conn));
    return cs;
  }();
  return *c;
}

inline wire::Proposal ike_proposal(bool gcm) {
  using wire::TransformType;
  wire::Proposal p;
  p.transforms = {wire::Transform::make(TransformType::Encr,
                                        static_cast<uint16_t>(gcm ? wire::EncrId::AesGcm16
                                                                  : wire::EncrId::AesCbc),
                                        256),
                  wire::Transform::make(TransformType::Prf,
                                        static_cast<uint16_t>(wire::PrfId::HmacSha2_256)),
                  wire::Transform::make(TransformType::Dh,
                                        static_cast<uint16_t>(wire::DhGroup::Curve25519))};
  if (!gcm)
    p.transforms.push_back(wire::Transform::make(
        TransformType::Integ, static_cast<uint16_t>(wire::IntegId::HmacSha2_256_128)));
  return p;
}

// An established IKE SA as the engine would hand it over.
inline IkeSa sample(bool gcm, size_t children) {
  IkeSa sa;
  sa.config = connections().find("from-alice");
  sa.local = sa.config->local;
  sa.remote = sa.config->remote;
  sa.spi_i = 0x0102030405060708;
  sa.spi_r = 0x1112131415161718;
  sa.state = IkeState::Established;
  sa.ike_proposal = ike_proposal(gcm);
  sa.algs = *ike_algorithms(sa.ike_proposal);
  sa.ni = Bytes(32, 1);
  sa.nr = Bytes(32, 2);
  const size_t ek = gcm ? 36 : 32, ik = gcm ? 0 : 32;
  sa.keys = {SecretBytes(Bytes(32, 3)), SecretBytes(Bytes(ik, 4)), SecretBytes(Bytes(ik, 5)),
             SecretBytes(Bytes(ek, 6)), SecretBytes(Bytes(ek, 7)), SecretBytes(Bytes(32, 8)),
             SecretBytes(Bytes(32, 9))};
  sa.next_request_mid = 3;
  sa.expected_request_mid = 5;
  sa.cached_response_mid = 4;
  sa.cached_response = {Bytes(80, 0xaa)};
  sa.peer_id = Identity::fqdn("alice.example");
  sa.peer_auth_text = "PSK";
  for (size_t i = 0; i < children; ++i) {
    ChildSa c;
    c.cfg = &sa.config->children[i % 2];
    c.state = ChildState::Installed;
    c.spi_in = 0xc0000100 + static_cast<uint32_t>(i);
    c.spi_out = 0xc0000200 + static_cast<uint32_t>(i);
    wire::Proposal esp;
    esp.protocol = wire::ProtocolId::Esp;
    esp.spi = Bytes{0xc0, 0, 2, static_cast<uint8_t>(i)};
    esp.transforms = {wire::Transform::make(wire::TransformType::Encr,
                                            static_cast<uint16_t>(wire::EncrId::AesGcm16), 256),
                      wire::Transform::make(wire::TransformType::Esn,
                                            static_cast<uint16_t>(wire::EsnId::NoEsn))};
    c.proposal = esp;
    c.local_ts = {wire::TrafficSelector{0, 0, 65535, ip("10.2.0.0"), ip("10.2.255.255")}};
    c.remote_ts = {wire::TrafficSelector{6, 443, 443, ip("10.1.0.0"), ip("10.1.255.255")}};
    c.lifetime.soft_add_seconds = 3000;
    c.lifetime.hard_add_seconds = 3600;
    sa.children.push_back(std::move(c));
  }
  return sa;
}

}  // namespace ipsec::ike::v2::fuzz
