// SPDX-License-Identifier: Apache-2.0
// Payload body codecs for every RFC 7296 payload except SA (see sa_codec.cpp).
#include "wire/payload_codec.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "wire/message.h"
#include "wire/names.h"

namespace ipsec::wire::detail {
namespace {

constexpr size_t kIpv4SelectorLength = 16;  // §3.13.1
constexpr size_t kIpv6SelectorLength = 40;
constexpr size_t kMinNonce = 16;  // §3.9
constexpr size_t kMaxNonce = 256;

std::string count_str(size_t n) { return std::to_string(n); }

// Every payload with a fixed part: the minimum body length after the generic header.
size_t min_body(PayloadType t) {
  switch (t) {
    case PayloadType::Ke:
    case PayloadType::IdI:
    case PayloadType::IdR:
    case PayloadType::Auth:
    case PayloadType::Notify:
    case PayloadType::Delete:
    case PayloadType::TsI:
    case PayloadType::TsR:
    case PayloadType::Cp:
    case PayloadType::Eap:
    case PayloadType::Skf:
      return 4;
    case PayloadType::Cert:
    case PayloadType::CertReq:
      return 1;
    default:
      return 0;
  }
}

IpAddress read_address(Reader& r, Family f) {
  IpAddress a;
  a.family = f;
  ByteView v = r.view(f == Family::V4 ? 4 : 16);
  std::copy(v.begin(), v.end(), a.bytes.begin());
  return a;
}

Result<TrafficSelector> parse_selector(Reader& r, const std::string& outer, size_t index) {
  const std::string at =
      outer + ": selector " + count_str(index) + " at offset " + count_str(r.offset());
  if (r.remaining() < 8)
    return syntax_error(at + ": truncated, " + count_str(r.remaining()) +
                        " bytes left for an 8-byte header");
  const auto type = static_cast<TsType>(r.u8());
  TrafficSelector ts;
  ts.ip_protocol = r.u8();
  const uint16_t length = r.u16();
  size_t want = 0;
  if (type == TsType::Ipv4AddrRange)
    want = kIpv4SelectorLength;
  else if (type == TsType::Ipv6AddrRange)
    want = kIpv6SelectorLength;
  else
    return syntax_error(at + ": unknown TS type " + count_str(static_cast<uint8_t>(type)));
  if (length != want)
    return syntax_error(at + ": length " + count_str(length) + " is not " + count_str(want) +
                        " for TS type " + count_str(static_cast<uint8_t>(type)));
  if (size_t{length} - 4 > r.remaining())
    return syntax_error(at + ": length " + count_str(length) + " exceeds the " +
                        count_str(r.remaining() + 4) + " bytes left");
  ts.start_port = r.u16();
  ts.end_port = r.u16();
  const Family f = type == TsType::Ipv4AddrRange ? Family::V4 : Family::V6;
  ts.start = read_address(r, f);
  ts.end = read_address(r, f);
  return ts;
}

template <class Ts>
Result<Payload> parse_ts(const Where& w, Reader body) {
  const std::string at = w.str();
  const uint8_t count = body.u8();
  body.skip(3);  // RESERVED: ignored on receipt (§3.13)
  Ts ts;
  while (!body.empty()) {
    if (ts.selectors.size() == count)
      return syntax_error(at + ": more selectors than the " + count_str(count) + " declared");
    auto s = parse_selector(body, at, ts.selectors.size() + 1);
    if (!s) return fail(s.error());
    ts.selectors.push_back(*s);
  }
  if (ts.selectors.size() != count)
    return syntax_error(at + ": " + count_str(count) + " selectors declared, " +
                        count_str(ts.selectors.size()) + " present");
  return Payload{std::move(ts)};
}

Result<Payload> parse_notify(const Where& w, Reader body) {
  NotifyPayload n;
  n.protocol = static_cast<ProtocolId>(body.u8());
  const uint8_t spi_size = body.u8();
  n.type = static_cast<NotifyType>(body.u16());
  if (spi_size > body.remaining())
    return syntax_error(w, "SPI size " + count_str(spi_size) + " exceeds the " +
                               count_str(body.remaining()) + " bytes left");
  n.spi = body.bytes(spi_size);
  n.data = body.rest();
  return Payload{std::move(n)};
}

Result<Payload> parse_delete(const Where& w, Reader body) {
  DeletePayload d;
  d.protocol = static_cast<ProtocolId>(body.u8());
  d.spi_size = body.u8();
  const uint16_t count = body.u16();
  if (d.spi_size == 0 && count != 0) return syntax_error(w, count_str(count) + " SPIs of size 0");
  if (static_cast<size_t>(count) * d.spi_size != body.remaining())
    return syntax_error(w, count_str(count) + " SPIs of " + count_str(d.spi_size) +
                               " bytes do not fill the " + count_str(body.remaining()) +
                               " bytes left");
  for (uint16_t i = 0; i < count; ++i) d.spis.push_back(body.bytes(d.spi_size));
  return Payload{std::move(d)};
}

Result<Payload> parse_cp(const Where& w, Reader body) {
  CpPayload cp;
  cp.cfg_type = static_cast<CfgType>(body.u8());
  body.skip(3);  // RESERVED
  while (!body.empty()) {
    if (cp.attributes.size() == kMaxCfgAttributes)
      return syntax_error(w, "more than " + count_str(kMaxCfgAttributes) + " attributes");
    const size_t at = body.offset();
    CfgAttr a;
    a.type = body.u16() & 0x7fff;  // §3.15.1: the R bit is reserved, ignored on receipt
    const uint16_t length = body.u16();
    if (!body.ok() || length > body.remaining())
      return syntax_error(w, "attribute at offset " + count_str(at) + " is truncated");
    a.value = body.bytes(length);
    cp.attributes.push_back(std::move(a));
  }
  return Payload{std::move(cp)};
}

Result<Payload> parse_skf(const Where& w, PayloadType next, Reader body) {
  SkfPayload f;
  f.inner_first = next;
  f.fragment_number = body.u16();
  f.total_fragments = body.u16();
  // RFC 7383 §2.5: numbering starts at 1 and never exceeds the (non-zero) total.
  if (f.fragment_number == 0 || f.fragment_number > f.total_fragments)
    return syntax_error(
        w, "fragment " + count_str(f.fragment_number) + " of " + count_str(f.total_fragments));
  f.data = body.rest();
  return Payload{std::move(f)};
}

// KE, ID, AUTH, CERT and CERTREQ: a type byte, reserved bytes, opaque data.
template <class P, class Field>
Payload typed_blob(Reader& body, size_t reserved, Field P::*field) {
  P p;
  p.*field = static_cast<Field>(body.u8());
  body.skip(reserved);
  p.data = body.rest();
  return Payload{std::move(p)};
}

}  // namespace

Result<Payload> parse_body(const Where& w, PayloadType next, Reader body) {
  if (body.remaining() < min_body(w.type))
    return syntax_error(w, below_minimum(body.remaining() + 4, min_body(w.type) + 4));
  switch (w.type) {
    case PayloadType::Sa: {
      auto sa = parse_sa(w, body);
      if (!sa) return fail(sa.error());
      return Payload{std::move(*sa)};
    }
    case PayloadType::Ke: {
      KePayload ke;
      ke.group = body.u16();
      body.skip(2);  // RESERVED
      ke.data = body.rest();
      return Payload{std::move(ke)};
    }
    case PayloadType::IdI:
      return typed_blob(body, 3, &IdIPayload::id_type);
    case PayloadType::IdR:
      return typed_blob(body, 3, &IdRPayload::id_type);
    case PayloadType::Cert:
      return typed_blob(body, 0, &CertPayload::encoding);
    case PayloadType::CertReq:
      return typed_blob(body, 0, &CertReqPayload::encoding);
    case PayloadType::Auth:
      return typed_blob(body, 3, &AuthPayload::method);
    case PayloadType::Nonce:
      if (body.remaining() < kMinNonce || body.remaining() > kMaxNonce)
        return syntax_error(
            w, "nonce of " + count_str(body.remaining()) + " bytes is outside 16..256");
      return Payload{NoncePayload{body.rest()}};
    case PayloadType::Notify:
      return parse_notify(w, body);
    case PayloadType::Delete:
      return parse_delete(w, body);
    case PayloadType::VendorId:
      return Payload{VendorIdPayload{body.rest()}};
    case PayloadType::TsI:
      return parse_ts<TsIPayload>(w, body);
    case PayloadType::TsR:
      return parse_ts<TsRPayload>(w, body);
    case PayloadType::Sk:
      return Payload{SkPayload{next, body.rest()}};
    case PayloadType::Cp:
      return parse_cp(w, body);
    case PayloadType::Eap:
      return Payload{EapPayload{body.rest()}};
    case PayloadType::Skf:
      return parse_skf(w, next, body);
    case PayloadType::None:
      break;
  }
  return syntax_error(w, "not a known payload type");
}

}  // namespace ipsec::wire::detail
