// SPDX-License-Identifier: Apache-2.0
// Unit tests of src/wire parsing: a strongSwan IKE_SA_INIT byte by byte, and malformed input.
#include <doctest/doctest.h>

#include <initializer_list>

#include "wire/message.h"
#include "wire/names.h"

using namespace ipsec;
using namespace ipsec::wire;

namespace {

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes fill(size_t n, uint8_t start) {
  Bytes b;
  for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(start + i));
  return b;
}

// A generic payload header (RFC 7296 §3.2) followed by the body.
Bytes payload(uint8_t next, const Bytes& body, uint8_t flags = 0) {
  Bytes b{next, flags};
  put16(b, static_cast<uint16_t>(4 + body.size()));
  return cat({b, body});
}

// The IKE header (§3.1) with the length of the body added.
Bytes header(uint8_t first, uint8_t exchange, uint8_t flags, const Bytes& body,
             uint8_t version = 0x20, int32_t length_delta = 0) {
  Bytes b{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 0};
  b.insert(b.end(), {first, version, exchange, flags});
  put32(b, 0);
  put32(b, static_cast<uint32_t>(28 + body.size() + length_delta));
  return cat({b, body});
}

Bytes notify_body(uint16_t type, const Bytes& data) {
  Bytes b{0, 0};
  put16(b, type);
  return cat({b, data});
}

// strongSwan's IKE_SA_INIT request: SA{1: AES-GCM-16/256, PRF-SHA256, Curve25519}, KE, Ni,
// N(NATD_S), N(NATD_D), N(FRAG_SUP), N(SIGNATURE_HASH_ALGORITHMS).
Bytes strongswan_sa_init() {
  const Bytes encr{3, 0, 0, 12, 1, 0, 0, 20, 0x80, 0x0e, 0x01, 0x00};  // keylen 256 (TV)
  const Bytes prf{3, 0, 0, 8, 2, 0, 0, 5};
  const Bytes dh{0, 0, 0, 8, 4, 0, 0, 31};
  const Bytes proposal = cat({{0, 0, 0, 36, 1, 1, 0, 3}, encr, prf, dh});
  Bytes ke{0, 31, 0, 0};
  ke = cat({ke, fill(32, 0xa0)});
  const Bytes body = cat(
      {payload(34, proposal), payload(40, ke), payload(41, fill(32, 0x10)),
       payload(41, notify_body(16388, fill(20, 1))), payload(41, notify_body(16389, fill(20, 2))),
       payload(41, notify_body(16430, {})), payload(0, notify_body(16431, {0, 2, 0, 3, 0, 4}))});
  return header(33, 34, 0x08, body);
}

std::string parse_error(const Bytes& b) {
  auto m = parse(b);
  REQUIRE_FALSE(m);
  return m.error().message;
}

}  // namespace

TEST_SUITE("wire parse") {
  TEST_CASE("strongSwan IKE_SA_INIT request parses field by field") {
    const Bytes wire = strongswan_sa_init();
    auto m = parse(wire);
    REQUIRE_MESSAGE(m, m.error().message);
    CHECK(m->header.spi_i == 0x1122334455667788ULL);
    CHECK(m->header.spi_r == 0);
    CHECK(m->header.exchange == ExchangeType::IkeSaInit);
    CHECK(m->header.initiator);
    CHECK_FALSE(m->header.response);
    CHECK(m->header.major_version == 2);
    CHECK(m->header.message_id == 0);
    REQUIRE(m->payloads.size() == 7);

    const auto& sa = std::get<SaPayload>(m->payloads[0]);
    REQUIRE(sa.proposals.size() == 1);
    const Proposal& p = sa.proposals[0];
    CHECK(p.number == 1);
    CHECK(p.protocol == ProtocolId::Ike);
    CHECK(p.spi.empty());
    REQUIRE(p.transforms.size() == 3);
    CHECK(p.transforms[0].type == TransformType::Encr);
    CHECK(p.transforms[0].id == static_cast<uint16_t>(EncrId::AesGcm16));
    CHECK(p.transforms[0].key_length() == 256);
    CHECK(p.transforms[1].type == TransformType::Prf);
    CHECK(p.transforms[1].id == static_cast<uint16_t>(PrfId::HmacSha2_256));
    CHECK_FALSE(p.transforms[1].key_length());
    CHECK(p.transforms[2].type == TransformType::Dh);
    CHECK(p.transforms[2].id == static_cast<uint16_t>(DhGroup::Curve25519));

    const auto& ke = std::get<KePayload>(m->payloads[1]);
    CHECK(ke.group == 31);
    CHECK(ke.data == fill(32, 0xa0));
    CHECK(std::get<NoncePayload>(m->payloads[2]).data == fill(32, 0x10));
    const auto& natd_s = std::get<NotifyPayload>(m->payloads[3]);
    CHECK(natd_s.type == NotifyType::NatDetectionSourceIp);
    CHECK(natd_s.protocol == ProtocolId::None);
    CHECK(natd_s.spi.empty());
    CHECK(natd_s.data == fill(20, 1));
    CHECK(std::get<NotifyPayload>(m->payloads[4]).type == NotifyType::NatDetectionDestinationIp);
    CHECK(std::get<NotifyPayload>(m->payloads[5]).type == NotifyType::Ikev2FragmentationSupported);
    CHECK(std::get<NotifyPayload>(m->payloads[5]).data.empty());
    const auto& sha = std::get<NotifyPayload>(m->payloads[6]);
    CHECK(sha.type == NotifyType::SignatureHashAlgorithms);
    CHECK(sha.data == Bytes{0, 2, 0, 3, 0, 4});

    // Our encoder produces exactly what strongSwan sent.
    CHECK(encode(*m) == wire);
  }

  TEST_CASE("reserved bits are ignored on receipt and zero on encode (RFC 7296 §3.2)") {
    Bytes wire = strongswan_sa_init();
    wire[19] |= 0x47;  // header flags: reserved bits besides I
    wire[29] = 0x7f;   // SA generic header: reserved bits (not critical)
    auto m = parse(wire);
    REQUIRE_MESSAGE(m, m.error().message);
    CHECK(m->header.initiator);
    CHECK(encode(*m) == strongswan_sa_init());
  }

  TEST_CASE("truncated header, length mismatch, trailing bytes") {
    CHECK(parse_error(fill(10, 0)) ==
          "IKE header: message of 10 bytes is shorter than the 28-byte header");
    CHECK(parse_error(header(0, 37, 0, {}, 0x20, 4)) ==
          "IKE header: length 32 does not match the 28-byte datagram");
    CHECK(parse_error(header(0, 37, 0, {1, 2})) == "offset 28: 2 bytes after the last payload");
  }

  TEST_CASE("bad major version says so, for INVALID_MAJOR_VERSION") {
    auto m = parse(header(0, 37, 0, {}, 0x30));
    REQUIRE_FALSE(m);
    CHECK(m.error().message == "IKE header: major version 3 is not supported (only 2)");
    CHECK(wire_fault(m.error()).notify == NotifyType::InvalidMajorVersion);
    CHECK(parse(header(0, 37, 0, {}, 0x2f)));  // the minor version is ignored
  }

  TEST_CASE("generic payload header bounds") {
    CHECK(parse_error(header(40, 37, 0, {0, 0, 0, 3})) ==
          "Nonce payload at offset 28: length 3 is below the minimum 4");
    CHECK(parse_error(header(40, 37, 0, {0, 0, 0, 100, 1, 2})) ==
          "Nonce payload at offset 28: length 100 exceeds the 6 bytes left");
    CHECK(parse_error(header(40, 37, 0, {0, 0})) ==
          "Nonce payload at offset 28: truncated, 2 bytes left for a 4-byte header");
    CHECK(parse_error(header(40, 37, 0, payload(0, fill(8, 0)))) ==
          "Nonce payload at offset 28: nonce of 8 bytes is outside 16..256");
    auto e = parse(header(34, 37, 0, payload(0, {0, 31})));
    REQUIRE_FALSE(e);
    CHECK(e.error().message == "KE payload at offset 28: length 6 is below the minimum 8");
    CHECK(wire_fault(e.error()).notify == NotifyType::InvalidSyntax);
  }

  TEST_CASE("unknown payloads: skipped unless critical (RFC 7296 §2.5)") {
    const Bytes nonce = payload(0, fill(16, 0));
    auto m = parse(header(150, 37, 0, cat({payload(40, {9, 9}), nonce})));
    REQUIRE_MESSAGE(m, m.error().message);
    REQUIRE(m->payloads.size() == 2);
    const auto& u = std::get<UnknownPayload>(m->payloads[0]);
    CHECK(u.type == PayloadType{150});
    CHECK(u.body == Bytes{9, 9});
    CHECK(payload_type(m->payloads[0]) == PayloadType{150});
    CHECK(std::holds_alternative<NoncePayload>(m->payloads[1]));

    auto c = parse(header(150, 37, 0, cat({payload(40, {9, 9}, 0x80), nonce})));
    REQUIRE_FALSE(c);
    CHECK(c.error().message == "payload of type 150 at offset 28: unsupported critical payload");
    CHECK(wire_fault(c.error()).notify == NotifyType::UnsupportedCriticalPayload);
    CHECK(wire_fault(c.error()).payload == PayloadType{150});
    // The critical bit is ignored for a known type.
    CHECK(parse(header(40, 37, 0, payload(0, fill(16, 0), 0x80))));
  }

  TEST_CASE("at most 64 payloads") {
    Bytes body;
    for (int i = 0; i < 64; ++i) body = cat({body, payload(43, {})});
    CHECK_FALSE(parse(header(43, 37, 0, cat({body, payload(0, {})}))));
    CHECK(parse_error(header(43, 37, 0, cat({body, payload(0, {})}))) ==
          "Vendor ID payload at offset 284: more than 64 payloads");
    Bytes ok_body;
    for (int i = 0; i < 63; ++i) ok_body = cat({ok_body, payload(43, {})});
    auto m = parse(header(43, 37, 0, cat({ok_body, payload(0, {})})));
    REQUIRE(m);
    CHECK(m->payloads.size() == 64);
  }

  TEST_CASE("traffic selectors: type, lengths and counts (RFC 7296 §3.13.1)") {
    Bytes v4{7, 6, 0, 16, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 10, 0, 0, 255};
    auto m = parse(header(44, 37, 0, payload(0, cat({{1, 0, 0, 0}, v4}))));
    REQUIRE_MESSAGE(m, m.error().message);
    const auto& ts = std::get<TsIPayload>(m->payloads[0]);
    REQUIRE(ts.selectors.size() == 1);
    CHECK(ts.selectors[0].ip_protocol == 6);
    CHECK(ts.selectors[0].start.str() == "10.0.0.0");
    CHECK(ts.selectors[0].end.str() == "10.0.0.255");
    CHECK(ts.selectors[0].end_port == 65535);

    Bytes bad = v4;
    bad[3] = 20;
    CHECK(parse_error(header(44, 37, 0, payload(0, cat({{1, 0, 0, 0}, bad, {0, 0, 0, 0}})))) ==
          "TSi payload at offset 28: selector 1 at offset 36: length 20 is not 16 for TS type 7");
    CHECK(parse_error(header(44, 37, 0, payload(0, cat({{2, 0, 0, 0}, v4})))) ==
          "TSi payload at offset 28: 2 selectors declared, 1 present");
    CHECK(parse_error(header(45, 37, 0, payload(0, cat({{1, 0, 0, 0}, v4, v4})))) ==
          "TSr payload at offset 28: more selectors than the 1 declared");
    Bytes v6 = cat({{8, 0, 0, 40, 0, 0, 0xff, 0xff}, fill(32, 0)});
    CHECK(parse(header(44, 37, 0, payload(0, cat({{1, 0, 0, 0}, v6})))));
    v6[0] = 9;
    CHECK(parse_error(header(44, 37, 0, payload(0, cat({{1, 0, 0, 0}, v6})))) ==
          "TSi payload at offset 28: selector 1 at offset 36: unknown TS type 9");
  }

  TEST_CASE("transform attributes: TV and TLV (RFC 7296 §3.3.5)") {
    // One transform with a TLV attribute (type 17, 3 bytes) and the TV key length.
    const Bytes attrs{0x00, 0x11, 0x00, 0x03, 7, 8, 9, 0x80, 0x0e, 0x00, 0x80};
    const Bytes tr = cat({{0, 0, 0, static_cast<uint8_t>(8 + attrs.size()), 1, 0, 0, 12}, attrs});
    const Bytes prop = cat({{0, 0, 0, static_cast<uint8_t>(8 + tr.size()), 1, 3, 0, 1}, tr});
    auto m = parse(header(33, 37, 0, payload(0, prop)));
    REQUIRE_MESSAGE(m, m.error().message);
    const Transform& t = std::get<SaPayload>(m->payloads[0]).proposals[0].transforms[0];
    REQUIRE(t.attributes.size() == 2);
    CHECK_FALSE(t.attributes[0].tv);
    CHECK(t.attributes[0].type == 17);
    CHECK(t.attributes[0].data == Bytes{7, 8, 9});
    CHECK(t.key_length() == 128);

    Bytes over = prop;
    over[8 + 8 + 3] = 0x09;  // the TLV length now overruns the transform
    CHECK(parse_error(header(33, 37, 0, payload(0, over))) ==
          "SA payload at offset 28: proposal 1 at offset 32: transform 1 at offset 40: "
          "attribute 17 length 9 exceeds the 7 bytes left");
  }

  TEST_CASE("SA substructures: counts, lengths, Last Substruc") {
    const Bytes tr{0, 0, 0, 8, 1, 0, 0, 12};
    CHECK(parse_error(header(33, 37, 0, payload(0, cat({{0, 0, 0, 16, 1, 1, 0, 2}, tr})))) ==
          "SA payload at offset 28: proposal 1 at offset 32: 2 transforms declared, 1 present");
    CHECK(parse_error(header(33, 37, 0, payload(0, cat({{2, 0, 0, 16, 1, 1, 0, 1}, tr})))) ==
          "SA payload at offset 28: proposal 1 at offset 32: Last Substruc is 2, expected 0");
    CHECK(parse_error(header(33, 37, 0, payload(0, cat({{0, 0, 0, 6, 1, 1, 0, 1}, tr})))) ==
          "SA payload at offset 28: proposal 1 at offset 32: length 6 is below the minimum 8");
    CHECK(parse_error(header(33, 37, 0, payload(0, {}))) ==
          "SA payload at offset 28: no proposals");
  }

  TEST_CASE("Delete, SKF and SK placement") {
    CHECK(parse_error(header(42, 37, 0, payload(0, {3, 4, 0, 2, 1, 2, 3, 4}))) ==
          "Delete payload at offset 28: 2 SPIs of 4 bytes do not fill the 4 bytes left");
    CHECK(parse_error(header(53, 35, 0, payload(35, {0, 0, 0, 2}))) ==
          "SKF payload at offset 28: fragment 0 of 2");
    CHECK(parse_error(header(46, 35, 0, cat({payload(35, fill(16, 0)), payload(0, {})}))) ==
          "SK payload at offset 28: must be the last payload, 4 bytes follow");
    auto m = parse(header(46, 35, 0, payload(35, fill(16, 0))));
    REQUIRE(m);
    CHECK(std::get<SkPayload>(m->payloads[0]).inner_first == PayloadType::IdI);

    // Decrypted content: an SK inside SK is refused.
    auto inner = parse_payloads(PayloadType::Sk, payload(0, fill(8, 0)), 40);
    REQUIRE_FALSE(inner);
    CHECK(inner.error().message ==
          "SK payload at offset 40: not allowed inside an encrypted payload");
  }

  TEST_CASE("names for logs") {
    CHECK(exchange_name(ExchangeType::CreateChildSa) == "CREATE_CHILD_SA");
    CHECK(payload_name(PayloadType::Skf) == "SKF");
    CHECK(payload_name(PayloadType{99}) == "payload type 99");
    CHECK(notify_name(NotifyType::InvalidKePayload) == "INVALID_KE_PAYLOAD");
    CHECK(transform_name(TransformType::Encr, 20) == "ENCR_AES_GCM_16");
    CHECK(transform_name(TransformType::Integ, 12) == "AUTH_HMAC_SHA2_256_128");
    CHECK(transform_name(TransformType::Dh, 31) == "CURVE25519");
    CHECK(transform_name(TransformType::Prf, 99) == "PRF 99");
    CHECK(id_type_name(IdType::DerAsn1Dn) == "ID_DER_ASN1_DN");
  }

}  // TEST_SUITE
