// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the IKE SA records of a restart that keeps the tunnels (handover.h):
// the next ipsecd reads them from its state file, so a damaged file must be refused, never
// crash, leak or hit UB. A record that is accepted must come back the same: export of the
// imported SA, imported again, gives the same record (every field read is a field written).
// IPSEC_HANDOVER_FUZZ_SEEDS=DIR writes seed records (an IKE SA with zero, one and three
// CHILD SAs, AES-GCM and AES-CBC/SHA-256) to DIR and exits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ike/v2/handover.h"
#include "ike/v2/proposals.h"

using namespace ipsec;
using namespace ipsec::ike;
using namespace ipsec::ike::v2;

namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

Connections& connections() {
  static Connections* c = [] {
    auto* cs = new Connections;  // for the process's life
    ConnectionConfig conn;
    conn.name = "from-alice";
    conn.local = {ip("192.0.2.2"), 500};
    conn.remote = {ip("192.0.2.1"), 500};
    conn.local_id = Identity::fqdn("bob.example");
    conn.remote_id = Identity::fqdn("alice.example");
    conn.psk = SecretBytes(Bytes(32, 0x42));
    for (const char* n : {"lan", "dmz"}) {
      ChildConfig ch;
      ch.name = n;
      ch.local_ts = {*Prefix::parse("10.2.0.0/16")};
      ch.remote_ts = {*Prefix::parse("10.1.0.0/16")};
      conn.children.push_back(ch);
    }
    cs->add(std::move(conn));
    return cs;
  }();
  return *c;
}

wire::Proposal ike_proposal(bool gcm) {
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
IkeSa sample(bool gcm, size_t children) {
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

void write_seeds(const char* dir) {
  int n = 0;
  for (bool gcm : {true, false})
    for (size_t children : {size_t{0}, size_t{1}, size_t{3}}) {
      IkeSa sa = sample(gcm, children);
      auto made = crypto::make_sk_cipher(sa.algs.sk, sa.keys.sk_ei, sa.keys.sk_ai);
      if (!made) std::abort();
      sa.out_cipher = std::move(*made);
      SecretBytes rec = export_ike_sa(sa);
      if (!import_ike_sa(rec.view(), connections())) std::abort();  // the seed must be whole
      const std::string path = std::string(dir) + "/seed-" + std::to_string(n++);
      FILE* f = std::fopen(path.c_str(), "wb");
      if (f == nullptr || std::fwrite(rec.data(), 1, rec.size(), f) != rec.size()) std::abort();
      std::fclose(f);
    }
  std::fprintf(stderr, "handover_fuzz: %d seeds in %s\n", n, dir);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("IPSEC_HANDOVER_FUZZ_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto sa = import_ike_sa(ByteView(data, size), connections());
  if (!sa) return 0;
  // Accepted: exported, it must read back to the same record.
  const SecretBytes again = export_ike_sa(**sa);
  auto second = import_ike_sa(again.view(), connections());
  if (!second) std::abort();
  if (!(export_ike_sa(**second) == again)) std::abort();
  return 0;
}
