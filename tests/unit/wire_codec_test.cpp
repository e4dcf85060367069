// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/wire encoding: every payload type survives encode -> parse unchanged.
#include <doctest/doctest.h>

#include "wire/message.h"

using namespace ipsec;
using namespace ipsec::wire;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

SaPayload sample_sa() {
  Proposal ike{1, ProtocolId::Ike, {}, {}};
  ike.transforms = {Transform::make(TransformType::Encr, 20, 256),
                    Transform::make(TransformType::Prf, 7), Transform::make(TransformType::Dh, 31)};
  Proposal esp{2, ProtocolId::Esp, {1, 2, 3, 4}, {}};
  esp.transforms = {Transform::make(TransformType::Encr, 12, 128),
                    Transform::make(TransformType::Integ, 12),
                    Transform::make(TransformType::Esn, 0)};
  esp.transforms[0].attributes.push_back({17, false, 0, {1, 2, 3}});  // a TLV attribute
  return SaPayload{{ike, esp}};
}

std::vector<Payload> every_payload() {
  TrafficSelector v4{6, 80, 443, ip("10.0.0.0"), ip("10.0.0.255")};
  TrafficSelector v6{0, 0, 65535, ip("2001:db8::"), ip("2001:db8::ffff")};
  return {
      sample_sa(),
      KePayload{31, Bytes(32, 0xab)},
      IdIPayload{IdType::Fqdn, {'m', 'o', 'o', 'n'}},
      IdRPayload{IdType::Ipv4Addr, {192, 0, 2, 1}},
      CertPayload{4, Bytes(50, 0x30)},
      CertReqPayload{4, Bytes(20, 0x11)},
      AuthPayload{2, Bytes(32, 0x22)},
      NoncePayload{Bytes(32, 0x33)},
      NotifyPayload{ProtocolId::Esp, NotifyType::RekeySa, {9, 9, 9, 9}, {}},
      NotifyPayload{ProtocolId::None, NotifyType::Cookie, {}, Bytes(16, 0x44)},
      DeletePayload{ProtocolId::Esp, 4, {{1, 2, 3, 4}, {5, 6, 7, 8}}},
      DeletePayload{ProtocolId::Ike, 0, {}},
      VendorIdPayload{{'s', 't', 'r', 'o', 'n', 'g'}},
      TsIPayload{{v4, v6}},
      TsRPayload{{v4}},
      CpPayload{CfgType::Request, {{1, {}}, {3, {}}, {8, {}}}},
      EapPayload{{1, 7, 0, 5, 1}},
      UnknownPayload{PayloadType{200}, false, {1, 2, 3}},
  };
}

void check_round_trip(const Message& m) {
  const Bytes wire = encode(m);
  auto back = parse(wire);
  REQUIRE_MESSAGE(back, back.error().message);
  CHECK(*back == m);
  CHECK(encode(*back) == wire);
}

}  // namespace

TEST_SUITE("wire codec") {
  TEST_CASE("every payload type round trips in the clear") {
    Message m;
    m.header = Header{0x0102030405060708ULL,
                      0x1112131415161718ULL,
                      2,
                      0,
                      ExchangeType::IkeAuth,
                      true,
                      false,
                      true,
                      7};
    m.payloads = every_payload();
    check_round_trip(m);
    for (const auto& p : every_payload()) {
      Message one{m.header, {p}};
      CAPTURE(payload_type(p));
      check_round_trip(one);
    }
  }

  TEST_CASE("SK and SKF are kept opaque with their inner first type") {
    Message m;
    m.header.exchange = ExchangeType::IkeAuth;
    m.header.message_id = 1;
    m.payloads = {NotifyPayload{ProtocolId::None, NotifyType::InitialContact, {}, {}},
                  SkPayload{PayloadType::IdI, Bytes(64, 0x55)}};
    check_round_trip(m);
    const Bytes wire = encode(m);
    CHECK(wire[28] == 46);      // Notify's Next Payload names SK
    CHECK(wire[28 + 8] == 35);  // SK's Next Payload (after the 8-byte Notify) names IDi

    m.payloads = {SkfPayload{PayloadType::IdI, 1, 3, Bytes(40, 0x66)}};
    check_round_trip(m);
    m.payloads = {SkfPayload{PayloadType::None, 3, 3, Bytes(10, 0x66)}};
    check_round_trip(m);
  }

  TEST_CASE("decrypted SK content: encode_payloads / parse_payloads") {
    const std::vector<Payload> inner = every_payload();
    const Bytes plain = encode_payloads(inner);
    auto back = parse_payloads(payload_type(inner.front()), plain);
    REQUIRE_MESSAGE(back, back.error().message);
    CHECK(*back == inner);
    auto empty = parse_payloads(PayloadType::None, {});
    REQUIRE(empty);
    CHECK(empty->empty());
  }

  TEST_CASE("header fields and flags on the wire (RFC 7296 §3.1)") {
    Message m;
    m.header = Header{1, 2, 2, 0, ExchangeType::Informational, false, true, true, 0x01020304};
    const Bytes wire = encode(m);
    REQUIRE(wire.size() == kHeaderSize);
    CHECK(wire[16] == 0);     // no payloads
    CHECK(wire[17] == 0x20);  // version 2.0
    CHECK(wire[18] == 37);
    CHECK(wire[19] == 0x30);  // R | V
    CHECK(wire[20] == 1);
    CHECK(wire[27] == 28);
    check_round_trip(m);
  }

  TEST_CASE("encoded reserved fields are zero") {
    Message m;
    m.payloads = {KePayload{14, {1}}, IdIPayload{IdType::KeyId, {2}}, AuthPayload{1, {3}}};
    const Bytes wire = encode(m);
    // KE: group(2) RESERVED(2); ID and AUTH: type(1) RESERVED(3).
    CHECK(Bytes(wire.begin() + 32, wire.begin() + 37) == Bytes{0, 14, 0, 0, 1});
    CHECK(Bytes(wire.begin() + 41, wire.begin() + 46) == Bytes{11, 0, 0, 0, 2});
    CHECK(Bytes(wire.begin() + 50, wire.begin() + 55) == Bytes{1, 0, 0, 0, 3});
    for (size_t at : {29u, 38u, 47u}) CHECK(wire[at] == 0);  // generic header flags
  }

}  // TEST_SUITE
