// SPDX-License-Identifier: Apache-2.0
// Payload body encoders: reserved fields zero, counts and sizes derived from the values.
#include <type_traits>

#include "wire/payload_codec.h"

namespace ipsec::wire::detail {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

void encode_selector(const TrafficSelector& ts, Writer& w) {
  const bool v6 = ts.start.family == Family::V6;
  const size_t n = v6 ? 16 : 4;
  w.u8(static_cast<uint8_t>(v6 ? TsType::Ipv6AddrRange : TsType::Ipv4AddrRange));
  w.u8(ts.ip_protocol);
  w.u16(static_cast<uint16_t>(8 + 2 * n));
  w.u16(ts.start_port);
  w.u16(ts.end_port);
  w.bytes(ByteView(ts.start.bytes.data(), n));
  w.bytes(ByteView(ts.end.bytes.data(), n));
}

template <PayloadType T>
void encode_ts(const TsPayload<T>& ts, Writer& w) {
  w.u8(static_cast<uint8_t>(ts.selectors.size()));
  w.zeros(3);
  for (const auto& s : ts.selectors) encode_selector(s, w);
}

void encode_notify(const NotifyPayload& n, Writer& w) {
  w.u8(static_cast<uint8_t>(n.protocol));
  w.u8(static_cast<uint8_t>(n.spi.size()));
  w.u16(static_cast<uint16_t>(n.type));
  w.bytes(n.spi);
  w.bytes(n.data);
}

void encode_delete(const DeletePayload& d, Writer& w) {
  w.u8(static_cast<uint8_t>(d.protocol));
  w.u8(d.spi_size);
  w.u16(static_cast<uint16_t>(d.spis.size()));
  for (const auto& spi : d.spis) w.bytes(spi);
}

void encode_cp(const CpPayload& cp, Writer& w) {
  w.u8(static_cast<uint8_t>(cp.cfg_type));
  w.zeros(3);
  for (const auto& a : cp.attributes) {
    w.u16(a.type & 0x7fff);
    w.u16(static_cast<uint16_t>(a.value.size()));
    w.bytes(a.value);
  }
}

// A type byte, `reserved` zero bytes, then the data (ID, AUTH, CERT, CERTREQ).
void typed_blob(uint8_t type, size_t reserved, const Bytes& data, Writer& w) {
  w.u8(type);
  w.zeros(reserved);
  w.bytes(data);
}

}  // namespace

void encode_body(const Payload& p, Writer& w) {
  std::visit(Overloaded{
                 [&](const SaPayload& sa) { encode_sa(sa, w); },
                 [&](const KePayload& ke) {
                   w.u16(ke.group);
                   w.zeros(2);
                   w.bytes(ke.data);
                 },
                 [&](const IdIPayload& id) {
                   typed_blob(static_cast<uint8_t>(id.id_type), 3, id.data, w);
                 },
                 [&](const IdRPayload& id) {
                   typed_blob(static_cast<uint8_t>(id.id_type), 3, id.data, w);
                 },
                 [&](const CertPayload& c) { typed_blob(c.encoding, 0, c.data, w); },
                 [&](const CertReqPayload& c) { typed_blob(c.encoding, 0, c.data, w); },
                 [&](const AuthPayload& a) { typed_blob(a.method, 3, a.data, w); },
                 [&](const NoncePayload& n) { w.bytes(n.data); },
                 [&](const NotifyPayload& n) { encode_notify(n, w); },
                 [&](const DeletePayload& d) { encode_delete(d, w); },
                 [&](const VendorIdPayload& v) { w.bytes(v.data); },
                 [&](const TsIPayload& ts) { encode_ts(ts, w); },
                 [&](const TsRPayload& ts) { encode_ts(ts, w); },
                 [&](const SkPayload& sk) { w.bytes(sk.data); },
                 [&](const CpPayload& cp) { encode_cp(cp, w); },
                 [&](const EapPayload& e) { w.bytes(e.data); },
                 [&](const SkfPayload& f) {
                   w.u16(f.fragment_number);
                   w.u16(f.total_fragments);
                   w.bytes(f.data);
                 },
                 [&](const UnknownPayload& u) { w.bytes(u.body); },
             },
             p);
}

}  // namespace ipsec::wire::detail
